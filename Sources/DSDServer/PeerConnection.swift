import DSDCore
import DSDWire
import Logging
import NIOCore

/// One connection to the directory: the handshake, then requests and the replication feed.
///
/// The handler only carries out what the pure machines decide (`Handshake`, `PeerFeed`). It
/// lives on the engine's event loop. A frame that cannot be decoded, a message out of place or
/// a failed handshake gets an `error` frame and the connection closes; an unauthenticated peer
/// reaches nothing but the handshake.
final class PeerConnection: ChannelInboundHandler {
    typealias InboundIn = Message
    typealias OutboundOut = Message

    private let engine: DirectoryEngine
    private var handshake: Handshake
    private var feed = PeerFeed()
    private var context: ChannelHandlerContext?
    private var peerRole: Role?
    private var peerName = "?"
    private var handshakeTimer: Scheduled<Void>?
    private var logger: Logger
    private var closing = false

    /// Raised to full-size frames once the peer is authenticated.
    private let frameLimit: FrameLimit

    init(engine: DirectoryEngine, frameLimit: FrameLimit) {
        self.engine = engine
        self.frameLimit = frameLimit
        self.handshake = Handshake(
            side: .responder, role: .directory, name: engine.settings.name, key: engine.settings.clusterKey,
            acceptedPeerRoles: [.agent, .node, .backupDirectory])
        self.logger = engine.logger
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard handshakeTimer == nil else { return }
        if let remote = context.remoteAddress { logger[metadataKey: "peer.address"] = "\(remote)" }
        let timeout = TimeAmount(engine.settings.handshakeTimeout)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        handshakeTimer = context.eventLoop.scheduleTask(in: timeout) {
            bound.value.handshakeTimedOut()
        }
        perform(handshake.onStart())
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        if peerRole != nil {
            engine.remove(self)
            logger.info("peer disconnected", metadata: ["peer.name": "\(peerName)"])
        }
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        guard peerRole != nil else {
            perform(handshake.onMessage(message))
            return
        }
        switch message {
        case .sync(let from):
            engine.sync(self, from: from)
        case .announce(let announce):
            engine.announced(self, name: peerName, announce)
        case .lease(let table, let key, let timeMaxMillis):
            engine.livenessLeased(self, table: table, key: key, timeMaxMillis: timeMaxMillis)
        case .unlease(let table, let key):
            engine.livenessUnleased(self, table: table, key: key)
        case .request(let id, let request):
            engine.submit(request, id: id, from: self)
        case .ping(let value):
            context.writeAndFlush(wrapOutboundOut(.pong(value)), promise: nil)
        case .pong:
            break
        default:
            fail(.malformed, "unexpected \(message.type) from an authenticated peer")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, peerRole != nil {
            engine.writable(self)
            context.flush()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let wire = error as? WireError {
            fail(wire.code, "\(wire)")
        } else {
            logger.debug("connection error", metadata: ["error": "\(error)"])
            close()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            logger.info("peer silent too long; closing", metadata: ["peer.name": "\(peerName)"])
            close()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: Handshake

    private func perform(_ actions: [HandshakeAction]) {
        for action in actions {
            switch action {
            case .send(let message):
                context?.writeAndFlush(wrapOutboundOut(message), promise: nil)
            case .authenticated(let role, let name):
                handshakeTimer?.cancel()
                frameLimit.authenticated()
                peerRole = role
                peerName = name
                logger[metadataKey: "peer.name"] = "\(name)"
                logger.info("peer authenticated", metadata: ["peer.role": "\(role)"])
                engine.add(self)
            case .fail(let code, let reason):
                logger.notice("handshake failed", metadata: ["error": "\(code): \(reason)"])
                close()
            }
        }
    }

    private func handshakeTimedOut() {
        guard peerRole == nil else { return }
        logger.info("handshake timed out")
        fail(.timeout, "handshake timed out")
    }

    private func fail(_ code: ErrorCode, _ reason: String) {
        guard let context, !closing else { return }
        logger.notice("closing connection", metadata: ["error": "\(code): \(reason)"])
        context.writeAndFlush(wrapOutboundOut(.error(code, message: reason)), promise: nil)
        close()
    }

    private func close() {
        guard let context, !closing else { return }
        closing = true
        context.close(promise: nil)
    }

    // MARK: Engine → peer

    func sync(from version: Version?, directory: Directory, durable: Version) {
        let writable = context?.channel.isWritable ?? false
        carryOut(feed.onSync(from: version, directory: directory, durable: durable, writable: writable))
        context?.flush()
    }

    func push(_ changes: [Change], directory: Directory, durable: Version) {
        let writable = context?.channel.isWritable ?? false
        carryOut(feed.onDurable(changes, directory: directory, durable: durable, writable: writable))
    }

    func drained(directory: Directory, durable: Version) {
        carryOut(feed.onWritable(directory: directory, durable: durable))
    }

    func respond(id: UInt64, _ result: RequestResult) {
        context?.write(wrapOutboundOut(.response(id: id, result)), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    private func carryOut(_ directives: [PeerFeed.Directive]) {
        guard let context else { return }
        for directive in directives {
            switch directive {
            case .send(let messages):
                for message in messages { context.write(wrapOutboundOut(message), promise: nil) }
            case .sendSnapshot(let snapshot):
                logger.info("sending snapshot", metadata: ["version": "\(snapshot.version)"])
                for message in SnapshotTransfer.messages(for: snapshot) {
                    context.write(wrapOutboundOut(message), promise: nil)
                }
            }
        }
    }
}
