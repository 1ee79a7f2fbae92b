import DSDCore
import DSDWire
import NIOCore
import NIOPosix
import Synchronization

/// What a lightweight peer has received so far.
struct PeerCounts: Sendable {
    /// Every byte read from the socket.
    var socketBytes = 0
    /// Bytes of frames other than `change` received after the snapshot (pongs), by re-encoding
    /// them: the encoding is canonical, so this is exactly what they took on the wire.
    var otherFrameBytes = 0
    var changes = 0
    var synced = false
    var lastVersion: Version?
    var failure: String?
}

/// A minimal agent speaking the wire protocol directly: handshake, `sync(from: nil)`, then it
/// decodes and counts every pushed change and counts the bytes the socket delivered. It keeps
/// no replica. Used to put the directory's fan-out under the load of many agents without a
/// thread per agent, and to measure the bytes a change costs on the wire.
final class RawPeer: Sendable {
    let name: String
    private let counts = Mutex(PeerCounts())
    private let channel = Mutex<(any Channel)?>(nil)
    /// Told of every change this peer receives (the fan-out benchmark).
    let tracker: FanoutTracker?

    init(name: String, tracker: FanoutTracker? = nil) {
        self.name = name
        self.tracker = tracker
    }

    var current: PeerCounts { counts.withLock { $0 } }

    func update(_ body: (inout PeerCounts) -> Void) { counts.withLock { body(&$0) } }

    /// Connects and authenticates; the snapshot arrives asynchronously (see `current.synced`).
    func connect(port: Int, key: ClusterKey, group: any EventLoopGroup, pingInterval: TimeAmount) async throws {
        let handshake = Handshake(
            side: .initiator, role: .agent, name: name, key: key, acceptedPeerRoles: [.directory, .node])
        let connected = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let seal = SessionSeal()
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteCountingHandler(peer: self),
                        ByteToMessageHandler(FrameDecoder(seal: seal)),
                        RecordSealer(seal: seal),
                        MessageToByteHandler(FrameEncoder()),
                        HandshakeHandler(handshake: handshake, seal: seal),
                        RawPeerHandler(peer: self, pingInterval: pingInterval),
                    ])
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        channel.withLock { $0 = connected }
    }

    func close() async {
        let open = channel.withLock { value in
            defer { value = nil }; return value
        }
        try? await open?.close()
    }
}

/// Counts the bytes read from the socket, then passes them on.
private final class ByteCountingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let peer: RawPeer

    init(peer: RawPeer) { self.peer = peer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = unwrapInboundIn(data).readableBytes
        peer.update { $0.socketBytes += count }
        context.fireChannelRead(data)
    }
}

/// After authentication: asks for everything, counts changes, answers pings, pings itself so
/// that the directory's idle timeout never closes it.
private final class RawPeerHandler: ChannelInboundHandler {
    typealias InboundIn = Message
    typealias OutboundOut = Message

    private let peer: RawPeer
    private let pingInterval: TimeAmount
    private var pinger: RepeatedTask?

    init(peer: RawPeer, pingInterval: TimeAmount) {
        self.peer = peer
        self.pingInterval = pingInterval
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is HandshakeCompleted else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        context.writeAndFlush(wrapOutboundOut(.sync(from: nil)), promise: nil)
        let channel = context.channel
        pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: pingInterval, delay: pingInterval) { _ in
            channel.writeAndFlush(Message.ping(1), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        switch message {
        case .change(let change):
            peer.update {
                $0.changes += 1
                $0.lastVersion = change.version
            }
            peer.tracker?.received(change.version)
        case .snapshotEnd(let version):
            peer.update {
                $0.synced = true
                $0.lastVersion = version
            }
        case .snapshotBegin, .snapshotTable:
            break
        case .ping(let value):
            context.writeAndFlush(wrapOutboundOut(.pong(value)), promise: nil)
            fallthrough
        default:
            var buffer = ByteBuffer()
            let size = (try? buffer.writeFrame(message)) ?? 0
            peer.update { $0.otherFrameBytes += size }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        pinger?.cancel()
        peer.update { if $0.failure == nil { $0.failure = "connection closed" } }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        peer.update { $0.failure = "\(error)" }
        context.close(promise: nil)
    }
}
