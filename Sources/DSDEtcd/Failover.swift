import NIOCore

/// Which member one call tries next: a pure machine, driven by `EtcdClient` with the outcome
/// of each attempt and the time.
///
/// A call starts at the member that answered last (`preferred`) and goes round the list. A
/// failure that did nothing (no connection, no leader) moves on to the next member; after a
/// whole round of such failures it pauses (`retryPause`) and goes round again, until the
/// deadline. A failure after which the request may have been applied ends the call at once.
struct Failover: Sendable, Hashable {
    enum Directive: Sendable, Hashable {
        /// Send the request to the member at this index.
        case attempt(Int)
        /// Wait until then, then call `onPaused`.
        case pause(until: NIODeadline)
        /// Give up: the call fails with the attempts so far.
        case fail
    }

    let count: Int
    let deadline: NIODeadline
    let retryPause: TimeAmount
    private(set) var next: Int
    /// Members tried since the current round started.
    private(set) var triedThisRound = 0

    init(count: Int, preferred: Int, deadline: NIODeadline, retryPause: TimeAmount) {
        precondition(count > 0, "an etcd client needs at least one endpoint")
        self.count = count
        self.deadline = deadline
        self.retryPause = retryPause
        self.next = preferred % count
    }

    mutating func onStart(now: NIODeadline) -> Directive { attemptNext(now: now) }

    /// The attempt failed; `retryable` says it provably did nothing.
    mutating func onFailure(retryable: Bool, now: NIODeadline) -> Directive {
        guard retryable else { return .fail }
        guard now < deadline else { return .fail }
        if triedThisRound < count { return attemptNext(now: now) }
        let resume = now + retryPause
        guard resume < deadline else { return .fail }
        return .pause(until: resume)
    }

    mutating func onPaused(now: NIODeadline) -> Directive {
        triedThisRound = 0
        return attemptNext(now: now)
    }

    private mutating func attemptNext(now: NIODeadline) -> Directive {
        guard now < deadline else { return .fail }
        let index = next
        next = (next + 1) % count
        triedThisRound += 1
        return .attempt(index)
    }
}
