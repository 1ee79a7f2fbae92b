import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP/1.1 connection to one member, for one request: connect, POST the JSON body, read
/// the answer, close. A fresh connection per request keeps the failure cases simple (a
/// request that failed to connect was never sent; one whose connection broke may have been
/// applied) at the price of a loopback/LAN connect, tens of microseconds.
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

    func connect(timeout: TimeAmount) async -> Connection {
        do {
            let bootstrap = ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
            let initializer: @Sendable (any NIOCore.Channel) -> EventLoopFuture<Channel> = { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try Channel(wrappingChannelSynchronously: channel)
                }
            }
            // An address given as an IP literal is connected to directly: resolving it
            // would cost a hop to the resolver's thread on every request.
            let channel: Channel
            if let address = try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port) {
                channel = try await bootstrap.connect(to: address, channelInitializer: initializer)
            } else {
                channel = try await bootstrap.connect(
                    host: endpoint.host, port: endpoint.port, channelInitializer: initializer)
            }
            return .connected(channel)
        } catch {
            return .failed(Self.connectFailure(error))
        }
    }

    /// The request's head: JSON, no keep-alive, and (`requiresLeader`) `hasleader` metadata so that a member
    /// without a leader refuses at once ("etcdserver: no leader") instead of waiting out its
    /// own 7 s request timeout (etcd's `clientv3.WithRequireLeader`, through the gateway's
    /// `Grpc-Metadata-` header mapping).
    func head(_ operation: EtcdOperation, bodyBytes: Int) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: operation.path)
        head.headers.add(name: "Host", value: endpoint.authority)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(bodyBytes))
        head.headers.add(name: "Connection", value: "close")
        if operation.requiresLeader { head.headers.add(name: "Grpc-Metadata-hasleader", value: "true") }
        return head
    }

    /// POSTs `body` as `operation` and reads the whole answer, all before `deadline`.
    func post(
        _ operation: EtcdOperation, body: ByteBuffer, deadline: NIODeadline, connectTimeout: TimeAmount, maxBytes: Int
    ) async
        -> Outcome
    {
        let remaining = deadline - .now()
        guard remaining > .zero else { return .notSent(.timedOut) }
        let channel: Channel
        switch await connect(timeout: min(connectTimeout, remaining)) {
        case .connected(let connected): channel = connected
        case .failed(let failure): return .notSent(failure)
        }
        // At the deadline the connection is closed, which ends the read below.
        let timer = channel.channel.eventLoop.scheduleTask(deadline: deadline) { channel.channel.close(promise: nil) }
        defer { timer.cancel() }
        let head = self.head(operation, bodyBytes: body.readableBytes)
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.head(head))
                try await outbound.write(.body(.byteBuffer(body)))
                try await outbound.write(.end(nil))
                var status = 0
                var collected = ByteBuffer()
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        status = Int(head.status.code)
                    case .body(var chunk):
                        guard collected.readableBytes + chunk.readableBytes <= maxBytes else { return .tooLarge }
                        collected.writeBuffer(&chunk)
                    case .end:
                        return .answered(Answer(status: status, body: collected))
                    }
                }
                return .lost(Self.lossReason(deadline: deadline))
            }
        } catch {
            return .lost(Self.lossReason(deadline: deadline))
        }
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
