import DSDWire
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The agent's side of route probing: answers the directory's authenticated probe requests.
///
/// One UDP socket per announced route, bound to the route's own address at `probePort`, so a
/// reply always leaves *from* the address the request was sent to; on the directly attached
/// subnets of a host's links the kernel then sends it back over that same link, and one
/// request/reply pair proves the link in both directions (the agent needs no probes of its
/// own). A route address that cannot be bound (not local: behind NAT, say) is served by one
/// wildcard socket instead, whose replies leave by the kernel's choice of source address.
///
/// A request is answered only when it authenticates, names this host and the route whose
/// socket it arrived on, and is fresh for its directory session (`ProbeReplayGuard`).
///
/// NIO closes a datagram channel after most send errors (ENETUNREACH for a reply while the
/// route's link is down, say); the responder then binds that socket again, so a link that
/// comes back is answered on again.
public final class ProbeResponder: Sendable {
    /// A socket's purpose: one route's address, or the wildcard fallback.
    enum Slot: Hashable, Sendable {
        case route(UInt32, address: String)
        case wildcard
    }

    struct State {
        var stopped = false
        var channels: [Slot: any Channel] = [:]
    }

    /// Wait before binding a closed socket again.
    static let rebindDelay: Duration = .milliseconds(50)

    private let settings: AgentSettings
    private let loop: any EventLoop
    private let logger: Logger
    private let state = Mutex(State())

    public init(settings: AgentSettings, loop: any EventLoop, logger: Logger) {
        self.settings = settings
        self.loop = loop
        self.logger = logger
    }

    /// Binds the sockets; returns once each is bound or has failed.
    public func start() async {
        guard settings.probePort != 0, !settings.routes.isEmpty else { return }
        var unbound = false
        for route in settings.routes {
            do {
                try await bind(.route(route.index, address: route.address)).get()
            } catch {
                logger.warning(
                    "cannot bind the probe socket to the route address; answering on the wildcard address",
                    metadata: ["route": "\(route.index)=\(route.address)", "error": "\(error)"])
                unbound = true
            }
        }
        if unbound {
            do {
                try await bind(.wildcard).get()
            } catch {
                logger.error(
                    "cannot bind the probe socket; routes will be marked invalid", metadata: ["error": "\(error)"])
            }
        }
        let count = state.withLock { $0.channels.count }
        logger.info("answering route probes", metadata: ["port": "\(settings.probePort)", "sockets": "\(count)"])
    }

    /// Closes every socket; nothing is bound again.
    public func stop() async {
        let channels = state.withLock { state in
            state.stopped = true
            defer { state.channels = [:] }
            return Array(state.channels.values)
        }
        for channel in channels { try? await channel.close() }
    }

    private func bind(_ slot: Slot) -> EventLoopFuture<Void> {
        let hostName = settings.hostName
        let key = settings.clusterKey
        let routes = Set(settings.routes.map(\.index))
        let logger = self.logger
        let (host, routeIndex): (String, UInt32?) =
            switch slot {
            case .route(let index, let address): (address, index)
            case .wildcard: ("0.0.0.0", nil)
            }
        return DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ProbeAnswerHandler(
                            hostName: hostName, key: key, routeIndex: routeIndex, routes: routes, logger: logger))
                }
            }
            .bind(host: host, port: Int(settings.probePort))
            .map { channel in
                let keep = self.state.withLock { state in
                    guard !state.stopped else { return false }
                    state.channels[slot] = channel
                    return true
                }
                guard keep else {
                    channel.close(promise: nil)
                    return
                }
                channel.closeFuture.whenComplete { _ in self.closed(slot, channel) }
            }
    }

    private func closed(_ slot: Slot, _ channel: any Channel) {
        let rebind = state.withLock { state in
            guard !state.stopped, let current = state.channels[slot], current === channel else { return false }
            state.channels[slot] = nil
            return true
        }
        guard rebind else { return }
        logger.notice("probe socket closed; binding it again", metadata: ["slot": "\(slot)"])
        rebindLater(slot)
    }

    private func rebindLater(_ slot: Slot) {
        loop.scheduleTask(in: TimeAmount(Self.rebindDelay)) {
            guard !self.state.withLock({ $0.stopped }) else { return }
            self.bind(slot).whenFailure { error in
                self.logger.warning(
                    "cannot bind the probe socket; retrying", metadata: ["slot": "\(slot)", "error": "\(error)"])
                self.rebindLater(slot)
            }
        }
    }
}

/// Answers probes arriving on one socket.
final class ProbeAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let hostName: String
    private let key: ClusterKey
    /// The route this socket is bound for; nil for the wildcard socket (any of `routes`).
    private let routeIndex: UInt32?
    private let routes: Set<UInt32>
    private let logger: Logger
    private var replayGuard = ProbeReplayGuard()

    init(hostName: String, key: ClusterKey, routeIndex: UInt32?, routes: Set<UInt32>, logger: Logger) {
        self.hostName = hostName
        self.key = key
        self.routeIndex = routeIndex
        self.routes = routes
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let request = try? Probe(decoding: envelope.data, key: key), request.kind == .request,
            request.host == hostName,
            routeIndex.map({ $0 == request.routeIndex }) ?? routes.contains(request.routeIndex),
            replayGuard.admit(request), let reply = try? request.reply.encoded(key: key)
        else {
            logger.trace("ignoring datagram", metadata: ["from": "\(envelope.remoteAddress)"])
            return
        }
        context.writeAndFlush(
            wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reply to an unreachable directory fails here; the directory counts the miss.
        logger.debug("probe socket error", metadata: ["error": "\(error)"])
    }
}
