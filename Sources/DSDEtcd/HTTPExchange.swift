import NIOCore
import NIOHTTP1
import NIOPosix

/// HTTP/1.1 to one member. A unary call (`post`) runs on a keep-alive connection from the
/// client's pool, or a fresh one, with `ExchangeHandler` doing the request on the event loop;
/// a watch (`connect`) has a connection of its own, read as an async stream.
///
/// A pooled connection whose member closed it (a restart) is dropped when taken. One that
/// ends without a word of answer just as a request goes out on it is ambiguous: a call that is
/// safe to send twice goes out again on a fresh connection, any other reports that its outcome
/// is unknown, as on a fresh connection that broke (one that failed to connect was never
/// sent).
struct HTTPExchange: Sendable {
    typealias Channel = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    let endpoint: EtcdEndpoint
    let group: any EventLoopGroup

    /// A full answer: status and body.
    struct Answer: Sendable {
        var status: Int
        var body: ByteBuffer
    }

    enum Outcome: Sendable {
        case answered(Answer)
        /// The request was never sent (the connection could not be made).
        case notSent(EtcdError.Failure)
        /// Sent, then no (whole) answer: the member may have acted on it.
        case lost(EtcdError.Failure)
        /// The answer exceeded the size limit.
        case tooLarge
    }

    enum Connection: Sendable {
        case connected(Channel)
        case failed(EtcdError.Failure)
    }

    /// A connection of its own, read as an async stream (a watch).
    func connect(timeout: TimeAmount) async -> Connection {
        do {
            let channel = try await connect(bootstrap(timeout: timeout)) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try Channel(wrappingChannelSynchronously: channel)
                }
            }
            return .connected(channel)
        } catch {
            return .failed(Self.connectFailure(error))
        }
    }

    /// The request's head: JSON, keep-alive unless `closing`, and (`requiresLeader`)
    /// `hasleader` metadata so that a member without a leader refuses at once ("etcdserver:
    /// no leader") instead of waiting out its own 7 s request timeout (etcd's
    /// `clientv3.WithRequireLeader`, through the gateway's `Grpc-Metadata-` header mapping).
    func head(_ operation: EtcdOperation, bodyBytes: Int, closing: Bool = false) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: operation.path)
        head.headers.add(name: "Host", value: endpoint.authority)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(bodyBytes))
        if closing { head.headers.add(name: "Connection", value: "close") }
        if operation.requiresLeader { head.headers.add(name: "Grpc-Metadata-hasleader", value: "true") }
        return head
    }

    /// POSTs `body` as `operation` to member `member` and reads the whole answer, all before
    /// `deadline`; `resendable` when the request is safe to send twice (see the type's comment).
    func post(
        _ operation: EtcdOperation, body: ByteBuffer, deadline: NIODeadline, connectTimeout: TimeAmount, maxBytes: Int,
        pool: ConnectionPool, member: Int, resendable: Bool
    ) async -> Outcome {
        let head = self.head(operation, bodyBytes: body.readableBytes)
        if let pooled = pool.take(member) {
            switch await exchange(on: pooled, head: head, body: body, deadline: deadline, maxBytes: maxBytes) {
            case .ended(heardAnything: false) where resendable && NIODeadline.now() < deadline:
                pooled.close(promise: nil)  // closed as the request went out: again, on a fresh one
            case let end:
                return outcome(of: end, on: pooled, pool: pool, member: member, deadline: deadline)
            }
        }
        let remaining = deadline - .now()
        guard remaining > .zero else { return .notSent(.timedOut) }
        let channel: any NIOCore.Channel
        do {
            channel = try await connect(bootstrap(timeout: min(connectTimeout, remaining))) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler())
                    return channel
                }
            }
        } catch {
            return .notSent(Self.connectFailure(error))
        }
        pool.opened()
        let end = await exchange(on: channel, head: head, body: body, deadline: deadline, maxBytes: maxBytes)
        return outcome(of: end, on: channel, pool: pool, member: member, deadline: deadline)
    }

    /// One request on `channel` (its pipeline ends in `ExchangeHandler`); at the deadline the
    /// connection is closed, which ends the exchange.
    private func exchange(
        on channel: any NIOCore.Channel, head: HTTPRequestHead, body: ByteBuffer, deadline: NIODeadline, maxBytes: Int
    ) async -> ExchangeHandler.End {
        let promise = channel.eventLoop.makePromise(of: ExchangeHandler.End.self)
        let timer = channel.eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
        defer { timer.cancel() }
        channel.writeAndFlush(
            ExchangeHandler.Request(head: head, body: body, maxBytes: maxBytes, promise: promise), promise: nil)
        return (try? await promise.futureResult.get()) ?? .ended(heardAnything: true)
    }

    private func outcome(
        of end: ExchangeHandler.End, on channel: any NIOCore.Channel, pool: ConnectionPool, member: Int,
        deadline: NIODeadline
    ) -> Outcome {
        switch end {
        case .answered(let answer, let keepAlive):
            if keepAlive { pool.give(channel, member: member) } else { channel.close(promise: nil) }
            return .answered(answer)
        case .ended:
            channel.close(promise: nil)
            return .lost(Self.lossReason(deadline: deadline))
        case .tooLarge:
            return .tooLarge
        }
    }

    private func bootstrap(timeout: TimeAmount) -> ClientBootstrap {
        ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
    }

    /// Connects to the member. An address given as an IP literal is connected to directly:
    /// resolving it would cost a hop to the resolver's thread on every connection.
    private func connect<Output: Sendable>(
        _ bootstrap: ClientBootstrap,
        _ initializer: @escaping @Sendable (any NIOCore.Channel) -> EventLoopFuture<Output>
    ) async throws -> Output {
        if let address = try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port) {
            return try await bootstrap.connect(to: address, channelInitializer: initializer)
        }
        return try await bootstrap.connect(host: endpoint.host, port: endpoint.port, channelInitializer: initializer)
    }

    /// A connection that ended early ended at the deadline (closed by the timer) or by itself.
    static func lossReason(deadline: NIODeadline) -> EtcdError.Failure {
        NIODeadline.now() >= deadline ? .timedOut : .connectionLost
    }

    static func connectFailure(_ error: any Error) -> EtcdError.Failure {
        if let error = error as? ChannelError, case .connectTimeout = error { return .connectTimedOut }
        if let error = error as? IOError { return .cannotConnect(errno: error.errnoCode) }
        if let error = error as? NIOConnectionError {
            for attempt in error.connectionErrors {
                if let channelError = attempt.error as? ChannelError, case .connectTimeout = channelError {
                    return .connectTimedOut
                }
                if let io = attempt.error as? IOError { return .cannotConnect(errno: io.errnoCode) }
            }
        }
        return .cannotConnect(errno: nil)
    }
}
