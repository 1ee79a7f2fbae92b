/// Jittered exponential backoff for reconnecting to the directory, as a pure value: the caller
/// supplies the random fraction.
struct ReconnectBackoff: Sendable {
    let minimum: Duration
    let maximum: Duration
    private(set) var failures = 0

    init(minimum: Duration, maximum: Duration) {
        self.minimum = minimum
        self.maximum = maximum
    }

    /// A connection attempt failed: the delay before the next one. `random` in `0..<1`
    /// spreads the delay over ±50%.
    mutating func onFailure(random: Double) -> Duration {
        let exponent = min(failures, 30)
        failures += 1
        let base = min(maximum, minimum * (1 << exponent))
        return base * (0.5 + random)
    }

    /// A connection was established: start again from the minimum.
    mutating func onSuccess() {
        failures = 0
    }
}
