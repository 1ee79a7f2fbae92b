import DSDCore
import DSDWire
import Logging
import NIOCore

/// What a peer connection reports to the directory it belongs to: the directory on its log
/// (`DirectoryEngine`) or on etcd (`EtcdDirectoryEngine`). Every call is on the engine's loop.
protocol PeerHost: AnyObject {
    var logger: Logger { get }
    func add(_ peer: PeerConnection)
    func remove(_ peer: PeerConnection)
    func sync(_ peer: PeerConnection, from version: Version?)
    func announced(_ peer: PeerConnection, name: String, _ announce: Announce)
    func livenessLeased(_ peer: PeerConnection, table: TableID, key: String, timeMaxMillis: UInt64)
    func livenessUnleased(_ peer: PeerConnection, table: TableID, key: String)
    func submit(_ request: DirectoryRequest, id: UInt64, from peer: PeerConnection)
    func writable(_ peer: PeerConnection)
}

/// One authenticated peer of the directory: its requests and its replication feed.
///
/// The handler only carries out what the pure machine decides (`PeerFeed`). It lives on the
/// engine's event loop, behind a `HandshakeHandler`: it sees a peer only once that peer is
/// authenticated (`HandshakeCompleted`). A message out of place gets an `error` frame and the
/// connection closes.
final class PeerConnection: ChannelInboundHandler {
    typealias InboundIn = Message
    typealias OutboundOut = Message

    private let engine: any PeerHost
    private var feed = PeerFeed()
    private var context: ChannelHandlerContext?
    private var peerRole: Role?
    private var peerName = "?"
    private var logger: Logger
    private var closing = false
    /// Where encoded frames enter the pipeline, below the frame encoder (see `FramesOut`).
    private var framesContext: ChannelHandlerContext?

    /// The handshake the directory answers with: agents, nodes and backups may connect.
    static func handshake(settings: ServerSettings) -> Handshake {
        Handshake(
            side: .responder, role: .directory, name: settings.name, key: settings.clusterKey,
            acceptedPeerRoles: [.agent, .node, .backupDirectory])
    }

    init(engine: any PeerHost) {
        self.engine = engine
        self.logger = engine.logger
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        framesContext = try? context.pipeline.syncOperations.context(handlerType: FramesOut.self)
        if let remote = context.remoteAddress { logger[metadataKey: "peer.address"] = "\(remote)" }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if peerRole != nil {
            engine.remove(self)
            logger.info("peer disconnected", metadata: ["peer.name": "\(peerName)"])
        }
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
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
        if let failure = error as? HandshakeFailure {
            // The handshake handler has sent the error frame and closes the connection.
            logger.notice("handshake failed", metadata: ["error": "\(failure.code): \(failure.message)"])
        } else if let wire = error as? WireError {
            // Likewise for a frame that cannot be decoded.
            logger.notice("closing connection", metadata: ["error": "\(wire.code): \(wire)"])
        } else {
            logger.debug("connection error", metadata: ["error": "\(error)"])
            close()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let completed = event as? HandshakeCompleted {
            peerRole = completed.peerRole
            peerName = completed.peerName
            logger[metadataKey: "peer.name"] = "\(completed.peerName)"
            logger.info("peer authenticated", metadata: ["peer.role": "\(completed.peerRole)"])
            engine.add(self)
        } else if event is IdleStateHandler.IdleStateEvent {
            logger.info("peer silent too long; closing", metadata: ["peer.name": "\(peerName)"])
            close()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: Closing

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

    /// The connection's id for the liveness machines and the route prober. Unique among live
    /// connections; an address reused after a connection is gone is harmless because its
    /// disconnect was already handled.
    var connectionID: UInt64 { UInt64(UInt(bitPattern: ObjectIdentifier(self))) }

    // MARK: Engine → peer

    func sync(from version: Version?, directory: Directory, durable: Version) {
        let writable = context?.channel.isWritable ?? false
        carryOut(feed.onSync(from: version, directory: directory, durable: durable, writable: writable))
        context?.flush()
    }

    /// The directory was replaced by a fresh reading (etcd compacted what the watch needed):
    /// the peer catches up from what it was sent, which takes a snapshot.
    func resync(directory: Directory) {
        guard let position = feed.position else { return }
        sync(from: position, directory: directory, durable: directory.version)
    }

    func push(_ batch: PushBatch, directory: Directory, durable: Version) {
        let writable = context?.channel.isWritable ?? false
        carryOut(
            feed.onDurable(batch.changes, directory: directory, durable: durable, writable: writable), batch: batch)
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

    private func carryOut(_ directives: [PeerFeed.Directive], batch: PushBatch? = nil) {
        guard let context else { return }
        for directive in directives {
            switch directive {
            case .send(let messages):
                for message in messages { context.write(wrapOutboundOut(message), promise: nil) }
            case .sendAllDurable:
                guard let batch else { continue }
                if let below = framesContext {
                    // Already encoded: into the pipeline below the frame encoder.
                    below.write(NIOAny(batch.frames), promise: nil)
                } else {
                    for change in batch.changes { context.write(wrapOutboundOut(.change(change)), promise: nil) }
                }
            case .sendSnapshot(let snapshot):
                logger.info("sending snapshot", metadata: ["version": "\(snapshot.version)"])
                for message in SnapshotTransfer.messages(for: snapshot) {
                    context.write(wrapOutboundOut(message), promise: nil)
                }
            }
        }
    }
}
