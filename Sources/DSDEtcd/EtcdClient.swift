/// DSDEtcd: a client of etcd's v3 API through its JSON gateway, over HTTP/1.1 on NIO.
///
/// etcd serves every v3 call as `POST /v3/<service>/<method>` with the protobuf message in
/// JSON (bytes in base64, 64-bit integers as strings, defaults omitted); `Wire` holds those
/// shapes and converts them to the public types. Unary calls (range, put, delete, txn,
/// compaction, lease grant/revoke/time-to-live, and keepalive as one POST per renewal, since
/// the gateway ignores every request after the first in a streamed body, etcd#8237) run on
/// keep-alive connections kept per member (`HTTPExchange`, `ConnectionPool`). A watch is one long POST whose chunked answer is a
/// stream of newline-delimited JSON responses (`EtcdWatch`).
///
/// Failover (`Failover`, a pure machine): a call starts at the member that answered last and
/// has `EtcdSettings.requestTimeout` in all. A member that cannot be reached, or answers that
/// it has no leader, did nothing, so the next member is tried, and after a full round of such
/// answers the round is repeated after a short pause until the deadline. A request that was
/// sent and not answered may have been applied: reads and lease renewals go on to the next
/// member, writes stop and report it (`EtcdError.outcomeUnknown`). Every request carries the
/// `hasleader` metadata, so a member cut off from quorum refuses at once instead of waiting.
import FoundationEssentials
import NIOCore
import NIOPosix
import Synchronization

public final class EtcdClient: Sendable {
    public let endpoints: [EtcdEndpoint]
    public let settings: EtcdSettings
    let group: any EventLoopGroup
    /// Index of the member that answered last: the next call starts there.
    let preferred = Mutex(0)
    /// Idle keep-alive connections for unary calls.
    let pool = ConnectionPool()

    /// A client of the cluster whose members' client URLs are `endpoints` (at least one).
    /// It owns no threads: its connections run on `group`.
    public init(
        endpoints: [EtcdEndpoint], settings: EtcdSettings = .default,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        precondition(!endpoints.isEmpty, "an etcd client needs at least one endpoint")
        self.endpoints = endpoints
        self.settings = settings
        self.group = group
    }

    /// The endpoint the next call tries first.
    public var currentEndpoint: EtcdEndpoint { endpoints[preferred.withLock { $0 }] }

    /// Sends `request` as `operation` to the members in turn (see the module comment),
    /// decodes the first success as `Response` and converts it with `convert`.
    ///
    /// `resendUnanswered` lets a write that was sent and not answered go on to the next member,
    /// for a caller whose request is safe to apply twice (a transaction guarded by a sequence
    /// number). Each attempt has `EtcdSettings.attemptTimeout` at most, so a member that holds
    /// a request without answering (a follower whose leader just died) costs that much.
    func call<Request: Encodable, Response: Decodable, Result>(
        _ operation: EtcdOperation, _ request: Request, as: Response.Type, resendUnanswered: Bool = false,
        _ convert: (Response) throws -> Result
    ) async throws -> Result {
        let body = ByteBuffer(bytes: try JSONEncoder().encode(request))
        let deadline = NIODeadline.now() + TimeAmount(settings.requestTimeout)
        let resend = operation.isIdempotent || resendUnanswered
        return try await withFailover(operation, deadline: deadline) { index -> AttemptOutcome<Result> in
            let endpoint = endpoints[index]
            let exchange = HTTPExchange(endpoint: endpoint, group: group)
            let attemptDeadline = resend ? min(deadline, .now() + TimeAmount(settings.attemptTimeout)) : deadline
            let outcome = await exchange.post(
                operation, body: body, deadline: attemptDeadline,
                connectTimeout: TimeAmount(settings.connectTimeout), maxBytes: settings.maxAnswerBytes, pool: pool,
                member: index, resendable: resend)
            try Task.checkCancellation()
            switch outcome {
            case .answered(let answer) where answer.status == 200:
                preferred.withLock { $0 = index }
                let response = try Self.decode(Response.self, answer.body, operation, endpoint)
                do {
                    return .done(try convert(response))
                } catch let problem as WireProblem {
                    throw EtcdError.malformedAnswer(operation, endpoint: endpoint, detail: problem.detail)
                }
            case .answered(let answer):
                switch Self.errorAnswer(answer).verdict(status: answer.status, operation: operation) {
                case .reject(let rejection):
                    preferred.withLock { $0 = index }
                    throw EtcdError.rejected(operation, endpoint: endpoint, rejection)
                case .retry(let failure): return .failed(failure, retryable: true)
                case .stop(let failure): return .failed(failure, retryable: false)
                }
            case .notSent(let failure):
                return .failed(failure, retryable: true)
            case .lost(let failure):
                return .failed(failure, retryable: resend)
            case .tooLarge:
                throw EtcdError.malformedAnswer(
                    operation, endpoint: endpoint, detail: "the answer exceeds \(settings.maxAnswerBytes) bytes")
            }
        }
    }

    /// What one attempt at one member came to: a result, or a failure and whether the next
    /// member may be tried (a refusal that ends the call is thrown instead).
    enum AttemptOutcome<Result> {
        case done(Result)
        case failed(EtcdError.Failure, retryable: Bool)
    }

    /// Runs `attempt` at the members in the order `Failover` decides, pausing between rounds,
    /// until one is done or the deadline passes (`EtcdError.unavailable` with every attempt).
    func withFailover<Result>(
        _ operation: EtcdOperation, deadline: NIODeadline, _ attempt: (Int) async throws -> AttemptOutcome<Result>
    ) async throws -> Result {
        var failover = Failover(
            count: endpoints.count, preferred: preferred.withLock { $0 }, deadline: deadline,
            retryPause: TimeAmount(settings.retryPause))
        var attempts: [EtcdError.Attempt] = []
        var directive = failover.onStart(now: .now())
        while true {
            switch directive {
            case .fail:
                if attempts.isEmpty { attempts.append(.init(endpoints[failover.next], .timedOut)) }
                throw EtcdError.unavailable(operation, attempts: attempts)
            case .pause(let until):
                try await Task.sleep(for: .nanoseconds(max(0, (until - .now()).nanoseconds)))
                directive = failover.onPaused(now: .now())
            case .attempt(let index):
                switch try await attempt(index) {
                case .done(let result):
                    return result
                case .failed(let failure, let retryable):
                    attempts.append(.init(endpoints[index], failure))
                    directive = failover.onFailure(retryable: retryable, now: .now())
                }
            }
        }
    }

    static func decode<Response: Decodable>(
        _ type: Response.Type, _ body: ByteBuffer, _ operation: EtcdOperation, _ endpoint: EtcdEndpoint
    ) throws(EtcdError) -> Response {
        do {
            return try JSONDecoder().decode(Response.self, from: Data(body.readableBytesView))
        } catch {
            throw EtcdError.malformedAnswer(operation, endpoint: endpoint, detail: Self.jsonProblem(error))
        }
    }

    /// What was wrong with an answer's JSON, as a phrase naming the field (not the decoder's
    /// enum dump).
    static func jsonProblem(_ error: any Error) -> String {
        func field(_ path: [any CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        guard let error = error as? DecodingError else { return "it is not the expected JSON" }
        switch error {
        case .keyNotFound(let key, let context):
            return "the field \(field(context.codingPath + [key])) is missing"
        case .valueNotFound(_, let context), .typeMismatch(_, let context):
            return "the field \(field(context.codingPath)) has the wrong type"
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            return "the field \(field(context.codingPath)) is malformed"
        case .dataCorrupted:
            return "it is not JSON"
        @unknown default:
            return "it is not the expected JSON"
        }
    }

    /// The JSON error of a failed answer, or its text when it is not JSON (a proxy's page).
    static func errorAnswer(_ answer: HTTPExchange.Answer) -> ErrorAnswer {
        if let decoded = try? JSONDecoder().decode(ErrorAnswer.self, from: Data(answer.body.readableBytesView)) {
            return decoded
        }
        return ErrorAnswer(message: String(buffer: answer.body), error: nil, code: nil)
    }
}
