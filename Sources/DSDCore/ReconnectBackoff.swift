/// Jittered exponential backoff for reconnecting to the directory, as a pure value: the caller
/// supplies the random fraction.
///
/// The n-th failure in a row waits `min(maximum, minimum · 2ⁿ)`, spread over ±50% so that a
/// thousand agents do not reconnect in lockstep after a directory restart.
public struct ReconnectBackoff: Hashable, Sendable {
    public let minimum: Duration
    public let maximum: Duration
    /// Failures since the last success.
    public private(set) var failures = 0

    public init(minimum: Duration, maximum: Duration) {
        self.minimum = minimum
        self.maximum = maximum
    }

    /// A connection attempt failed: the delay before the next one. `random` in `0..<1`
    /// spreads the delay over ±50%.
    public mutating func onFailure(random: Double) -> Duration {
        let exponent = min(failures, 30)
        failures += 1
        let base = min(maximum, minimum * (1 << exponent))
        return base * (0.5 + random)
    }

    /// A connection was established: start again from the minimum.
    public mutating func onSuccess() {
        failures = 0
    }
}
