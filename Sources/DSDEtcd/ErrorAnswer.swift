/// An error answer of the gateway, `{"error":…,"message":…,"code":N}` with an HTTP status,
/// sorted into what the client does next. etcd's error texts (`rpctypes`) are its wire
/// vocabulary: they are matched here and nowhere else.
struct ErrorAnswer: Decodable, Sendable {
    var message: String?
    var error: String?
    var code: Int?

    enum Verdict: Sendable, Hashable {
        /// Nothing was done: try the next member.
        case retry(EtcdError.Failure)
        /// The member may have done it: stop, the outcome is unknown.
        case stop(EtcdError.Failure)
        /// A refusal every member would give.
        case reject(EtcdError.Rejection)
    }

    var text: String { message ?? error ?? "" }

    func verdict(status: Int, operation: EtcdOperation) -> Verdict {
        let text = self.text
        let code = self.code ?? 0
        if text.hasSuffix("no leader") { return .retry(.noLeader) }
        if text.hasSuffix("required revision has been compacted") { return .reject(.compacted) }
        if text.hasSuffix("required revision is a future revision") { return .reject(.futureRevision) }
        if text.hasSuffix("requested lease not found") { return .reject(.leaseNotFound) }
        // gRPC Unavailable (14), e.g. "request timed out", "leader changed", "not capable".
        if code == 14 || status == 503 {
            return operation.isIdempotent ? .retry(.unavailable(text)) : .stop(.unavailable(text))
        }
        if status >= 500 {
            let failure = EtcdError.Failure.serverError(status: status, text)
            return operation.isIdempotent ? .retry(failure) : .stop(failure)
        }
        return .reject(.other(status: status, code: code, message: text))
    }
}
