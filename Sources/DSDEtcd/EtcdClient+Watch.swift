import FoundationEssentials
import NIOCore
import NIOHTTP1

/// Watches: one streaming POST each, scoped to a closure (the connection closes when it
/// returns or throws).
extension EtcdClient {
    /// Opens a watch on the first member that accepts it (the same failover as any read,
    /// within the request timeout), then hands its updates to `body`. The stream has no
    /// deadline of its own: it lasts until `body` returns, the member goes away
    /// (`EtcdError.watchInterrupted`) or etcd ends it (`.compacted`, `.canceled`).
    public func watch<Result: Sendable>(
        _ request: WatchRequest, _ body: (EtcdWatch) async throws -> Result
    ) async throws -> Result {
        let (key, end) = Wire.range(request.keys)
        let create = Wire.WatchCreate(
            key: key, range_end: end, start_revision: Wire.int(request.startRevision),
            progress_notify: Wire.flag(request.progressNotify), prev_kv: Wire.flag(request.prevKV))
        let bytes = ByteBuffer(bytes: try JSONEncoder().encode(Wire.WatchRequest(create_request: create)))
        let deadline = NIODeadline.now() + TimeAmount(settings.requestTimeout)
        return try await withFailover(.watch, deadline: deadline) { index -> AttemptOutcome<Result> in
            switch try await attemptWatch(at: index, bytes, deadline: deadline, body) {
            case .ran(let result): return .done(result)
            case .failed(let failure): return .failed(failure, retryable: true)
            case .rejected(let rejection): throw EtcdError.rejected(.watch, endpoint: endpoints[index], rejection)
            }
        }
    }

    private enum WatchAttempt<Result: Sendable>: Sendable {
        case ran(Result)
        case failed(EtcdError.Failure)
        case rejected(EtcdError.Rejection)
    }

    private func attemptWatch<Result: Sendable>(
        at index: Int, _ request: ByteBuffer, deadline: NIODeadline,
        _ body: (EtcdWatch) async throws -> Result
    ) async throws -> WatchAttempt<Result> {
        let endpoint = endpoints[index]
        let exchange = HTTPExchange(endpoint: endpoint, group: group)
        let remaining = deadline - .now()
        guard remaining > .zero else { return .failed(.timedOut) }
        let channel: HTTPExchange.Channel
        switch await exchange.connect(timeout: min(TimeAmount(settings.connectTimeout), remaining)) {
        case .connected(let connected): channel = connected
        case .failed(let failure): return .failed(failure)
        }
        // Until the answer's head arrives, the request timeout applies.
        let timer = channel.channel.eventLoop.scheduleTask(deadline: deadline) { channel.channel.close(promise: nil) }
        let head = exchange.head(.watch, bodyBytes: request.readableBytes, closing: true)
        let maxAnswerBytes = settings.maxAnswerBytes
        let maxLineBytes = settings.maxWatchLineBytes
        return try await channel.executeThenClose { inbound, outbound in
            var parts = inbound.makeAsyncIterator()
            let status: Int
            do {
                try await outbound.write(.head(head))
                try await outbound.write(.body(.byteBuffer(request)))
                try await outbound.write(.end(nil))
                guard case .head(let answerHead) = try await parts.next() else {
                    timer.cancel()
                    return .failed(HTTPExchange.lossReason(deadline: deadline))
                }
                status = Int(answerHead.status.code)
                if status != 200 {
                    var collected = ByteBuffer()
                    while case .body(var chunk) = try await parts.next(), collected.readableBytes < maxAnswerBytes {
                        collected.writeBuffer(&chunk)
                    }
                    timer.cancel()
                    let answer = HTTPExchange.Answer(status: status, body: collected)
                    switch Self.errorAnswer(answer).verdict(status: status, operation: .watch) {
                    case .retry(let failure), .stop(let failure): return .failed(failure)
                    case .reject(let rejection): return .rejected(rejection)
                    }
                }
                timer.cancel()
            } catch {
                timer.cancel()
                try Task.checkCancellation()
                return .failed(HTTPExchange.lossReason(deadline: deadline))
            }
            preferred.withLock { $0 = index }
            return .ran(try await body(EtcdWatch(endpoint: endpoint, parts: parts, maxLineBytes: maxLineBytes)))
        }
    }
}
