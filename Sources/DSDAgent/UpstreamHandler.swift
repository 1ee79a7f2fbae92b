import DSDCore
import DSDWire
import Logging
import NIOCore

/// One connection from the agent to a directory, behind a `HandshakeHandler`: once the
/// directory is authenticated (`HandshakeCompleted`), pushed changes, snapshots and responses,
/// all handed to the `AgentEngine` on the same event loop.
final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = Message
    typealias OutboundOut = Message

    let endpoint: AgentSettings.Endpoint
    /// The upstream session's number for this connection attempt.
    let attempt: UInt64
    private let engine: AgentEngine
    private var authenticated = false
    private var context: ChannelHandlerContext?
    private var assembler = SnapshotAssembler()
    private var batch: [Change] = []
    /// Why this connection failed, when it knows better than "closed".
    private var failure: UpstreamFailure?
    private let logger: Logger

    /// The handshake an agent opens with: a directory or a middle-layer node may serve it.
    static func handshake(settings: AgentSettings) -> Handshake {
        Handshake(
            side: .initiator, role: .agent, name: settings.hostName, key: settings.clusterKey,
            acceptedPeerRoles: [.directory, .node])
    }

    init(engine: AgentEngine, endpoint: AgentSettings.Endpoint, attempt: UInt64, logger: Logger) {
        self.engine = engine
        self.endpoint = endpoint
        self.attempt = attempt
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelInactive(context: ChannelHandlerContext) {
        flushBatch()
        engine.disconnected(self, wasAuthenticated: authenticated, failure: failure)
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        switch message {
        case .change(let change):
            batch.append(change)
        case .snapshotBegin, .snapshotTable, .snapshotEnd:
            flushBatch()
            do {
                if let snapshot = try assembler.on(message) { engine.received(snapshot) }
            } catch {
                logger.error("bad snapshot transfer", metadata: ["error": "\(error)"])
                close()
            }
        case .response(let id, let result):
            flushBatch()
            engine.responded(id: id, result)
        case .ping(let value):
            send(.pong(value))
        case .pong:
            break
        case .error(let code, let text):
            logger.warning("directory reported an error", metadata: ["error": "\(code): \(text)"])
            close()
        default:
            logger.warning("unexpected message from the directory", metadata: ["type": "\(message.type)"])
            close()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushBatch()
        context.flush()
    }

    /// Applies the changes read so far in one step (one lock, one batch of events).
    private func flushBatch() {
        guard !batch.isEmpty else { return }
        let changes = batch
        batch.removeAll(keepingCapacity: true)
        engine.received(changes)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let handshake = error as? HandshakeFailure {
            // Logged by the engine with the reason, rate-limited.
            failure = .handshake(endpoint, handshake.code, handshake.message)
        } else {
            logger.debug("upstream error", metadata: ["error": "\(error)"])
        }
        close()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is HandshakeCompleted {
            authenticated = true
            engine.authenticated(self)
        } else if event is IdleStateHandler.IdleStateEvent {
            logger.warning("directory silent too long; reconnecting", metadata: ["server": "\(endpoint)"])
            failure = .silent(endpoint)
            close()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func send(_ message: Message) {
        context?.writeAndFlush(wrapOutboundOut(message), promise: nil)
    }

    func close() {
        context?.close(promise: nil)
    }
}
