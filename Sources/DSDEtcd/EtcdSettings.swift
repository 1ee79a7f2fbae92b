/// How an `EtcdClient` waits and retries.
public struct EtcdSettings: Sendable, Hashable {
    /// The most one call may take, across every endpoint and retry, from its start until its
    /// answer. 3 s outlasts an etcd leader election with default timing (election timeout 1 s,
    /// then one vote round), so a write made while etcd elects a new leader waits for it
    /// instead of failing; and a writer without quorum hears so within a few seconds.
    public var requestTimeout: Duration
    /// The most a TCP connect to one member may take. A member whose host is gone answers
    /// nothing (no refusal): after 500 ms, which is hundreds of round trips on a LAN, the next
    /// member is tried while the call still has time left.
    public var connectTimeout: Duration
    /// Pause between two rounds over the endpoints when every member refused the request
    /// before doing anything (no leader, not reachable). 100 ms is a tenth of etcd's default
    /// election timeout: a new leader is noticed soon after it is elected, and a member that
    /// is down is not hammered.
    public var retryPause: Duration
    /// The most one attempt at one member may take when the request may be resent (reads,
    /// renewals, guarded writes). A follower whose leader just died holds a proposal until
    /// etcd's own timeout (seconds) instead of answering; after 1 s, which is 1,000 round
    /// trips on a LAN and as long as etcd's default election timeout, the next member is
    /// tried while the call still has time left.
    public var attemptTimeout: Duration
    /// Largest answer read from etcd. A range over a large prefix is the biggest answer the
    /// directory asks for; etcd itself refuses requests over 1.5 MiB but not answers, so the
    /// limit is generous (64 MiB) and only guards against a runaway peer.
    public var maxAnswerBytes: Int
    /// Largest single line of a watch stream (one watch response, possibly with many events
    /// of one transaction). 16 MiB fits a transaction of 1,000 puts of the largest entries.
    public var maxWatchLineBytes: Int

    public init(
        requestTimeout: Duration, connectTimeout: Duration, retryPause: Duration, maxAnswerBytes: Int,
        maxWatchLineBytes: Int, attemptTimeout: Duration = .seconds(1)
    ) {
        self.requestTimeout = requestTimeout
        self.attemptTimeout = attemptTimeout
        self.connectTimeout = connectTimeout
        self.retryPause = retryPause
        self.maxAnswerBytes = maxAnswerBytes
        self.maxWatchLineBytes = maxWatchLineBytes
    }

    public static let `default` = EtcdSettings(
        requestTimeout: .seconds(3), connectTimeout: .milliseconds(500), retryPause: .milliseconds(100),
        maxAnswerBytes: 64 << 20, maxWatchLineBytes: 16 << 20)

    /// For tests on loopback: the same request timeout (a leader election takes as long in a
    /// test), quicker connects and retries.
    public static let testing = EtcdSettings(
        requestTimeout: .seconds(3), connectTimeout: .milliseconds(200), retryPause: .milliseconds(50),
        maxAnswerBytes: 64 << 20, maxWatchLineBytes: 16 << 20)
}
