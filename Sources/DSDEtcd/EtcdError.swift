/// Why a call to etcd failed. Each case names the operation and the member(s) involved; the
/// sentence is rendered only by `description`.
public enum EtcdError: Error, Sendable, Hashable {
    /// Why one attempt at one member did not get an answer.
    public enum Failure: Sendable, Hashable {
        /// The TCP connection could not be made (ECONNREFUSED: nothing listens there).
        case cannotConnect(errno: Int32?)
        /// The TCP connect did not complete within the connect timeout.
        case connectTimedOut
        /// The member follows no leader: the cluster has lost quorum, or is electing.
        case noLeader
        /// The member answered that it cannot serve now (gRPC code 14, HTTP 503); its words.
        case unavailable(String)
        /// Another server error (HTTP 5xx); its words.
        case serverError(status: Int, String)
        /// The connection closed before the whole answer arrived.
        case connectionLost
        /// No answer before the call's deadline (`EtcdSettings.requestTimeout`).
        case timedOut
    }

    /// One attempt of a call: where, and why it failed.
    public struct Attempt: Sendable, Hashable {
        public var endpoint: EtcdEndpoint
        public var failure: Failure

        public init(_ endpoint: EtcdEndpoint, _ failure: Failure) {
            self.endpoint = endpoint
            self.failure = failure
        }
    }

    /// Why a member refused a request; any other member would refuse it too.
    public enum Rejection: Sendable, Hashable {
        /// The requested revision has been compacted away: relist.
        case compacted
        /// The requested revision is newer than the store's.
        case futureRevision
        /// The lease does not exist (it expired or was revoked).
        case leaseNotFound
        /// Anything else: HTTP status, gRPC code and etcd's words.
        case other(status: Int, code: Int, message: String)
    }

    /// No member answered: every attempt, in order. When the last attempt was sent and not
    /// answered (`connectionLost`, `timedOut`), a write may or may not have been applied.
    case unavailable(EtcdOperation, attempts: [Attempt])
    /// A member refused the request.
    case rejected(EtcdOperation, endpoint: EtcdEndpoint, Rejection)
    /// A member answered something this client cannot read.
    case malformedAnswer(EtcdOperation, endpoint: EtcdEndpoint, detail: String)
    /// An established watch stream broke; watch again from the last revision seen + 1.
    case watchInterrupted(endpoint: EtcdEndpoint, Failure)

    /// A write that failed this way may have been applied anyway: it reached a member, which
    /// did not answer.
    public var outcomeUnknown: Bool {
        guard case .unavailable(let operation, let attempts) = self, !operation.isIdempotent,
            let last = attempts.last?.failure
        else { return false }
        switch last {
        case .connectionLost, .timedOut: return true
        case .cannotConnect, .connectTimedOut, .noLeader, .unavailable, .serverError: return false
        }
    }

    /// Some attempt was sent and not answered: a write may have been applied, whatever the
    /// later attempts said (for a call that resends, `EtcdClient.call`).
    public var anyAttemptUnanswered: Bool {
        guard case .unavailable(_, let attempts) = self else { return false }
        return attempts.contains {
            switch $0.failure {
            case .connectionLost, .timedOut: true
            case .cannotConnect, .connectTimedOut, .noLeader, .unavailable, .serverError: false
            }
        }
    }

    /// The cluster cannot currently serve requests (no member reachable, or no quorum): the
    /// degraded state, as opposed to a refusal of this particular request.
    public var isUnavailable: Bool {
        switch self {
        case .unavailable, .watchInterrupted: true
        case .rejected, .malformedAnswer: false
        }
    }
}
