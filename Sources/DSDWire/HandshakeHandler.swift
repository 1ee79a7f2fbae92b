import NIOCore

/// Drives a `Handshake` on a channel of `Message`s (place it after `FrameDecoder` and
/// `FrameEncoder`, with a `RecordSealer` below both, all sharing one `SessionSeal`). It holds no decisions of its own: it starts the machine when the channel
/// is active, feeds it inbound messages until authentication completes, carries out its
/// actions, and arms the handshake deadline.
///
/// - Until authenticated, nothing inbound passes on, and outbound writes wait; they are sent
///   in order once the peer is authenticated, or failed if the handshake fails.
/// - On success it raises the decoder's `FrameLimit` (if given) to full-size frames, fires
///   `HandshakeCompleted` as a user inbound event, then passes every message through.
/// - On failure it fires `HandshakeFailure` through `errorCaught` and closes the channel after
///   the error frame has been written.
/// - A `WireError` from the decoder (at any time) is answered with `error(malformed)` and the
///   channel is closed: a stream that lost framing cannot be resynchronised.
public final class HandshakeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = Message
    public typealias InboundOut = Message
    public typealias OutboundIn = Message
    public typealias OutboundOut = Message

    public struct Settings: Sendable {
        /// How long the whole handshake may take before the connection is dropped.
        public var timeout: TimeAmount

        public init(timeout: TimeAmount) {
            self.timeout = timeout
        }

        /// 5 s: a handshake is 1.5 round trips, milliseconds on a LAN; five seconds tolerates
        /// a heavily loaded directory without letting silent peers hold connections for long.
        public static let `default` = Settings(timeout: .seconds(5))
        /// Short enough for tests to exercise the deadline quickly.
        public static let testing = Settings(timeout: .milliseconds(200))
    }

    private var machine: Handshake
    private let settings: Settings
    private let frameLimit: FrameLimit?
    private let seal: SessionSeal
    private var started = false
    private var closing = false
    private var deadline: Scheduled<Void>?
    /// The last handshake frame written, so a failing side closes only after it went out.
    private var lastSend: EventLoopFuture<Void>?
    private var pendingWrites: [(Message, EventLoopPromise<Void>?)] = []

    /// `frameLimit`: the limit of this channel's `FrameDecoder`, raised once the peer is
    /// authenticated (an unauthenticated peer cannot make the other side buffer large frames).
    /// `seal`: shared with this channel's `FrameDecoder` and `RecordSealer`, which seal the
    /// session once the handshake installs its keys.
    public init(
        handshake: Handshake, settings: Settings = .default, frameLimit: FrameLimit? = nil, seal: SessionSeal
    ) {
        self.machine = handshake
        self.settings = settings
        self.frameLimit = frameLimit
        self.seal = seal
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        failPendingWrites(HandshakeFailure(code: .internal, message: "handshake handler removed"))
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        failPendingWrites(HandshakeFailure(code: .unavailable, message: "connection closed during the handshake"))
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if machine.isAuthenticated {
            context.fireChannelRead(data)
        } else {
            perform(machine.onMessage(unwrapInboundIn(data)), context: context)
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if machine.isAuthenticated {
            context.write(data, promise: promise)
        } else {
            pendingWrites.append((unwrapOutboundIn(data), promise))
        }
    }

    public func flush(context: ChannelHandlerContext) {
        if machine.isAuthenticated { context.flush() }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let wireError = error as? WireError {
            closeAfterSending(.error(wireError.code, message: "\(wireError)"), context: context)
        }
        context.fireErrorCaught(error)
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: settings.timeout) { [self] in
            perform(machine.onTimeout(), context: context)
        }
        perform(machine.onStart(), context: context)
    }

    private func perform(_ actions: [HandshakeAction], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let message):
                lastSend = context.write(wrapOutboundOut(message))
            case .sealOutbound(let keys):
                // After the clear `authOK` above has passed the sealer, before anything else.
                seal.install(outbound: keys)
            case .openInbound(let keys):
                // Read synchronously from within the decoder, before its next byte.
                seal.install(inbound: keys)
            case .authenticated(let role, let name):
                deadline?.cancel()
                frameLimit?.authenticated()
                let writes = pendingWrites
                pendingWrites = []
                for (message, promise) in writes { context.write(wrapOutboundOut(message), promise: promise) }
                context.flush()
                context.fireUserInboundEventTriggered(HandshakeCompleted(peerRole: role, peerName: name))
            case .fail(let code, let message):
                deadline?.cancel()
                let failure = HandshakeFailure(code: code, message: message)
                failPendingWrites(failure)
                context.fireErrorCaught(failure)
                closeAfterSending(nil, context: context)
            }
        }
        context.flush()
    }

    /// Writes `message` (if any) and closes once everything written so far is flushed out.
    private func closeAfterSending(_ message: Message?, context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        if let message { lastSend = context.write(wrapOutboundOut(message)) }
        context.flush()
        let channel = context.channel
        if let lastSend {
            lastSend.whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    private func failPendingWrites(_ failure: HandshakeFailure) {
        let writes = pendingWrites
        pendingWrites = []
        for (_, promise) in writes { promise?.fail(failure) }
    }
}

/// Fired as a user inbound event when the peer is authenticated.
public struct HandshakeCompleted: Hashable, Sendable {
    public var peerRole: Role
    public var peerName: String

    public init(peerRole: Role, peerName: String) {
        self.peerRole = peerRole
        self.peerName = peerName
    }
}

/// Fired through `errorCaught` when the handshake fails; the channel then closes.
public struct HandshakeFailure: Error, Hashable, Sendable {
    public var code: ErrorCode
    public var message: String

    public init(code: ErrorCode, message: String) {
        self.code = code
        self.message = message
    }
}
