import Glibc

/// Sentences for etcd failures, naming the member(s) and what failed. Rendered once, where the
/// error leaves the process; nothing branches on them.
extension EtcdError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unavailable(let operation, let attempts):
            // One phrase per member: what it said, in order, a repeat counted once.
            var order: [EtcdEndpoint] = []
            var said: [EtcdEndpoint: [(failure: Failure, count: Int)]] = [:]
            for attempt in attempts {
                if said[attempt.endpoint] == nil { order.append(attempt.endpoint) }
                var phrases = said[attempt.endpoint] ?? []
                if let last = phrases.last, last.failure == attempt.failure {
                    phrases[phrases.count - 1].count += 1
                } else {
                    phrases.append((attempt.failure, 1))
                }
                said[attempt.endpoint] = phrases
            }
            let each = order.map { endpoint in
                let phrases = said[endpoint, default: []].map {
                    "\($0.failure)" + ($0.count > 1 ? " ×\($0.count)" : "")
                }
                return "\(endpoint): " + phrases.joined(separator: ", then ")
            }.joined(separator: "; ")
            let tail = outcomeUnknown ? "; the \(operation) may have been applied" : ""
            return "etcd is unavailable: the \(operation) failed at every member tried (\(each))\(tail)"
        case .rejected(let operation, let endpoint, let rejection):
            return "etcd at \(endpoint) refused the \(operation): \(rejection)"
        case .malformedAnswer(let operation, let endpoint, let detail):
            return "etcd at \(endpoint) answered the \(operation) with something this client cannot read: \(detail)"
        case .watchInterrupted(let endpoint, let failure):
            return "the watch on etcd at \(endpoint) broke: \(failure)"
        }
    }
}

extension EtcdError.Failure: CustomStringConvertible {
    public var description: String {
        switch self {
        case .cannotConnect(let errno?):
            "cannot connect (\(String(cString: strerror(errno))))"
        case .cannotConnect(nil):
            "cannot connect"
        case .connectTimedOut:
            "no connection within the connect timeout"
        case .noLeader:
            "the member has no leader (etcd has lost quorum or is electing one)"
        case .unavailable(let message):
            "the member cannot serve now (\(message))"
        case .serverError(let status, let message):
            "server error \(status) (\(message))"
        case .connectionLost:
            "the connection closed before the answer"
        case .timedOut:
            "no answer within the request timeout"
        }
    }
}

extension EtcdError.Rejection: CustomStringConvertible {
    public var description: String {
        switch self {
        case .compacted:
            "the requested revision has been compacted"
        case .futureRevision:
            "the requested revision is newer than the store's"
        case .leaseNotFound:
            "the lease does not exist (expired or revoked)"
        case .other(let status, let code, let message):
            "\(message) (HTTP \(status), gRPC code \(code))"
        }
    }
}
