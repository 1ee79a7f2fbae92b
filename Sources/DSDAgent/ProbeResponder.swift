import DSDWire
import Logging
import NIOCore
import NIOPosix

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
public enum ProbeResponder {
    /// Binds the sockets on `loop`; closing the returned channels stops answering.
    public static func start(settings: AgentSettings, loop: any EventLoop, logger: Logger) async -> [any Channel] {
        guard settings.probePort != 0, !settings.routes.isEmpty else { return [] }
        var channels: [any Channel] = []
        var unbound: [UInt32] = []
        for route in settings.routes {
            do {
                channels.append(
                    try await bind(host: route.address, routeIndex: route.index, settings: settings, loop: loop, logger: logger))
            } catch {
                logger.warning(
                    "cannot bind the probe socket to the route address; answering on the wildcard address",
                    metadata: ["route": "\(route.index)=\(route.address)", "error": "\(error)"])
                unbound.append(route.index)
            }
        }
        if !unbound.isEmpty {
            do {
                channels.append(
                    try await bind(host: "0.0.0.0", routeIndex: nil, settings: settings, loop: loop, logger: logger))
            } catch {
                logger.error("cannot bind the probe socket; routes will be marked invalid", metadata: ["error": "\(error)"])
            }
        }
        logger.info("answering route probes", metadata: ["port": "\(settings.probePort)", "sockets": "\(channels.count)"])
        return channels
    }

    private static func bind(
        host: String, routeIndex: UInt32?, settings: AgentSettings, loop: any EventLoop, logger: Logger
    ) async throws -> any Channel {
        let hostName = settings.hostName
        let key = settings.clusterKey
        let routes = Set(settings.routes.map(\.index))
        return try await DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ProbeAnswerHandler(
                            hostName: hostName, key: key, routeIndex: routeIndex, routes: routes, logger: logger))
                }
            }
            .bind(host: host, port: Int(settings.probePort)).get()
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
            request.host == hostName, routeIndex.map({ $0 == request.routeIndex }) ?? routes.contains(request.routeIndex),
            replayGuard.admit(request), let reply = try? request.reply.encoded(key: key)
        else {
            logger.trace("ignoring datagram", metadata: ["from": "\(envelope.remoteAddress)"])
            return
        }
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reply to an unreachable directory fails here; the directory counts the miss.
        logger.debug("probe socket error", metadata: ["error": "\(error)"])
    }
}
