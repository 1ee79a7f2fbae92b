/// Decides which of a run of repeated failures to log, so an agent retrying every few hundred
/// milliseconds says why without flooding its log: the first failure, every change of reason,
/// and otherwise one per `interval`, with the number left out since the last one logged.
/// A success ends the run (`onSuccess`), so the next failure is logged at once.
public struct RepeatLimiter<Reason: Hashable & Sendable>: Sendable {
    /// What to do with one failure.
    public enum Decision: Hashable, Sendable {
        /// Log it; `suppressed` failures were left out since the last one logged.
        case log(suppressed: Int)
        /// Leave it out.
        case skip
    }

    public let interval: Duration
    private var lastLogged: (reason: Reason, at: Instant)?
    private var suppressed = 0

    public init(interval: Duration) { self.interval = interval }

    public mutating func onFailure(_ reason: Reason, now: Instant) -> Decision {
        if let last = lastLogged, last.reason == reason, now < last.at + interval {
            suppressed += 1
            return .skip
        }
        defer {
            lastLogged = (reason, now)
            suppressed = 0
        }
        return .log(suppressed: suppressed)
    }

    public mutating func onSuccess() {
        lastLogged = nil
        suppressed = 0
    }
}
