import DSDCore
import DSDWire
import Logging
import NIOCore
import NIOPosix

/// Route probing on the directory (seed "Route Updates", FIG. 4C): one UDP socket on the
/// engine's event loop that probes every announced route of every connected host and turns
/// `RouteLiveness` directives into commits of `DSD_HOST_ROUTE`.
///
/// - Only addresses announced by currently connected, authenticated agents are probed, at
///   the port the agent announced; table data never becomes a probe target.
/// - On an announce the directory puts `HOST.<index> → address` (valid) for each route whose
///   entry is missing or holds another address; an entry with the same address keeps its
///   validity, and the machine starts from it (an invalid route must earn K answers).
/// - Every `interval` the prober ticks the machine, then sends one request per route; one
///   more tick at the round's reply deadline notices misses early. A reply counts only when
///   it authenticates, belongs to this process's session, comes from the probed address and
///   answers an outstanding sequence number.
/// - `.markInvalid` / `.markValid` become `put(HOST.<index>, address, valid 0/1)` through the
///   engine's commit path: logged, then pushed to every agent like any change.
/// - When the announcing connection goes away, the host's routes stop being probed and their
///   entries stay as they are; a reconnect announces them again.
/// What the prober needs from the directory it probes for: the current routes, and a commit
/// path for the route entries it decides (the log engine, or the etcd master's fenced writes).
protocol RouteProberHost: AnyObject {
    var loop: any EventLoop { get }
    var settings: ServerSettings { get }
    var logger: Logger { get }
    func currentEntry(table: TableID, key: String) -> Entry?
    func commitDerived(_ mutation: Mutation)
}

final class RouteProber {
    struct Target {
        var address: String
        var socket: SocketAddress
    }

    struct HostRoutes {
        /// The connection that announced these routes.
        var owner: UInt64
        var targets: [UInt32: Target]
    }

    private weak var engine: (any RouteProberHost)?
    private let loop: any EventLoop
    private let key: ClusterKey
    private let bindHost: String
    private let logger: Logger
    private(set) var machine: RouteLiveness
    private(set) var hosts: [String: HostRoutes] = [:]
    /// Random per directory process: replies to another process's probes never count.
    let session = UInt64.random(in: 1...UInt64.max)
    private var nextSequence: UInt64 = 1
    private var rounds: UInt64 = 0
    private var channel: (any Channel)?
    private var binding = false
    private var stopped = false
    private var roundTask: RepeatedTask?
    private var deadlineTask: Scheduled<Void>?

    private init(engine: any RouteProberHost) {
        self.engine = engine
        self.loop = engine.loop
        self.key = engine.settings.clusterKey
        self.bindHost = engine.settings.host
        self.machine = RouteLiveness(settings: engine.settings.routeProbing)
        var logger = engine.logger
        logger[metadataKey: "component"] = "route-prober"
        self.logger = logger
    }

    /// Binds the probe socket (the listen host, an ephemeral port) and starts the rounds.
    /// Call on the engine's loop.
    static func start(engine: any RouteProberHost) -> EventLoopFuture<RouteProber> {
        let prober = RouteProber(engine: engine)
        let bound = NIOLoopBound(prober, eventLoop: engine.loop)
        return prober.bind().map {
            let prober = bound.value
            let interval = TimeAmount(prober.machine.settings.interval)
            prober.roundTask = prober.loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                bound.value.round()
            }
            prober.logger.info(
                "route probing",
                metadata: [
                    "address": "\(prober.channel?.localAddress.map { "\($0)" } ?? "?")",
                    "interval": "\(prober.machine.settings.interval)",
                    "threshold": "\(prober.machine.settings.threshold)",
                ])
            return prober
        }
    }

    func stop() {
        stopped = true
        roundTask?.cancel()
        deadlineTask?.cancel()
        roundTask = nil
        deadlineTask = nil
        channel?.close(promise: nil)
        channel = nil
    }

    /// Binds a fresh socket. NIO closes a datagram channel on most send errors (ENETUNREACH
    /// while the directory's own link is down, say); the next round then binds a new one, so a
    /// bad moment never ends probing.
    private func bind() -> EventLoopFuture<Void> {
        binding = true
        let bound = NIOLoopBound(self, eventLoop: loop)
        return DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler(prober: bound.value))
                }
            }
            .bind(host: bindHost, port: 0)
            .map { channel in
                let prober = bound.value
                prober.binding = false
                guard !prober.stopped else {
                    channel.close(promise: nil)
                    return
                }
                prober.channel = channel
                channel.closeFuture.whenComplete { _ in bound.value.closed(channel) }
            }
            .flatMapErrorThrowing { error in
                bound.value.binding = false
                throw error
            }
    }

    private func closed(_ closed: any Channel) {
        guard let current = channel, current === closed else { return }
        channel = nil
        guard !stopped else { return }
        logger.warning("probe socket closed; binding a new one")
        if !binding {
            let logger = self.logger
            bind().whenFailure { logger.error("cannot bind the probe socket", metadata: ["error": "\($0)"]) }
        }
    }

    private static func now() -> Instant { Instant(nanoseconds: NIODeadline.now().uptimeNanoseconds) }

    // MARK: Hosts

    /// An authenticated agent (`owner`) of `host` announced its routes.
    func announced(owner: UInt64, host: String, _ announce: Announce) {
        guard let engine else { return }
        let now = Self.now()
        guard announce.probePort != 0, !announce.routes.isEmpty else {
            if hosts.removeValue(forKey: host) != nil { machine.onHostGone(host, now: now) }
            return
        }
        var targets: [UInt32: Target] = [:]
        var initial: [UInt32: RouteLiveness.Health] = [:]
        for route in announce.routes {
            guard let socket = try? SocketAddress(ipAddress: route.address, port: Int(announce.probePort)) else {
                logger.warning(
                    "announced route is not an IP address; not probed",
                    metadata: ["host.id": "\(host)", "route": "\(route.index)=\(route.address)"])
                continue
            }
            targets[route.index] = Target(address: route.address, socket: socket)
            let id = RouteLiveness.RouteID(host: host, index: route.index)
            if let existing = engine.currentEntry(table: StandardTable.hostRoute.id, key: id.key),
                existing.value == route.address
            {
                initial[route.index] = existing.valid ? .valid : .invalid
            } else {
                initial[route.index] = .valid
                commit(Entry(key: id.key, value: route.address, valid: true), reason: "route announced")
            }
        }
        hosts[host] = HostRoutes(owner: owner, targets: targets)
        machine.onRoutesAnnounced(host: host, initial, now: now)
    }

    /// A connection that announced `host` closed: if it still owns the host's routes, stop
    /// probing them.
    func connectionGone(_ owner: UInt64, host: String) {
        guard hosts[host]?.owner == owner else { return }
        hosts[host] = nil
        machine.onHostGone(host, now: Self.now())
    }

    // MARK: Rounds

    private func round() {
        let now = Self.now()
        carryOut(machine.onTick(now: now))
        guard let channel else {
            // No socket, no evidence: nothing is sent and nothing counts as missed.
            if !binding, !stopped {
                let logger = self.logger
                bind().whenFailure { logger.error("cannot bind the probe socket", metadata: ["error": "\($0)"]) }
            }
            return
        }
        // One send per datagram, starting at a different route each round: a send error
        // (ENETUNREACH while the directory's own link is down) closes NIO's datagram channel,
        // and is a miss for that route only; the routes after it in this round are not sent
        // (and not counted), and the rotation keeps one dead route from starving the others.
        let routes = machine.routes
        rounds &+= 1
        for offset in routes.indices {
            let route = routes[(offset + Int(rounds % UInt64(routes.count))) % routes.count]
            guard channel.isActive else { break }
            guard let target = hosts[route.host]?.targets[route.index] else { continue }
            let sequence = nextSequence
            nextSequence += 1
            let probe = Probe(
                kind: .request, host: route.host, routeIndex: route.index, sequence: sequence, session: session,
                timestamp: now.nanoseconds)
            guard let datagram = try? probe.encoded(key: key) else { continue }
            machine.onProbeSent(route, seq: sequence, now: now)
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: target.socket, data: datagram), promise: nil)
        }
        scheduleDeadline(before: now + machine.settings.interval)
    }

    /// One extra tick at the earliest reply deadline, when it falls before the next round.
    private func scheduleDeadline(before nextRound: Instant) {
        deadlineTask?.cancel()
        deadlineTask = nil
        guard let deadline = machine.nextDeadline, deadline < nextRound else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        deadlineTask = loop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(deadline.nanoseconds)) {
            bound.value.deadlineTask = nil
            bound.value.carryOut(bound.value.machine.onTick(now: Self.now()))
        }
    }

    // MARK: Replies

    fileprivate func socketError(_ error: any Error) {
        logger.debug("probe socket error", metadata: ["error": "\(error)"])
    }

    fileprivate func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard let probe = try? Probe(decoding: envelope.data, key: key), probe.kind == .reply,
            probe.session == session,
            let target = hosts[probe.host]?.targets[probe.routeIndex],
            envelope.remoteAddress.ipAddress == target.socket.ipAddress
        else {
            logger.trace("ignoring datagram", metadata: ["from": "\(envelope.remoteAddress)"])
            return
        }
        let route = RouteLiveness.RouteID(host: probe.host, index: probe.routeIndex)
        carryOut(machine.onReply(route, seq: probe.sequence, now: Self.now()))
    }

    // MARK: Directives

    private func carryOut(_ directives: [RouteLiveness.Directive]) {
        for directive in directives {
            switch directive {
            case .markInvalid(let route): mark(route, valid: false)
            case .markValid(let route): mark(route, valid: true)
            }
        }
    }

    private func mark(_ route: RouteLiveness.RouteID, valid: Bool) {
        guard let target = hosts[route.host]?.targets[route.index] else { return }
        commit(
            Entry(key: route.key, value: target.address, valid: valid),
            reason: valid ? "route answers again" : "route stopped answering")
    }

    private func commit(_ entry: Entry, reason: String) {
        guard let engine, engine.currentEntry(table: StandardTable.hostRoute.id, key: entry.key) != entry else {
            return
        }
        logger.notice(
            "\(reason)", metadata: ["route": "\(entry.key)", "address": "\(entry.value)", "valid": "\(entry.valid)"])
        engine.commitDerived(.put(StandardTable.hostRoute.id, entry))
    }
}

/// The probe socket's handler: hands replies to the prober.
private final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private weak var prober: RouteProber?

    init(prober: RouteProber) { self.prober = prober }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        prober?.received(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A send to an unreachable route fails here; the missing reply is what counts. NIO
        // closes the channel after most send errors; the prober then binds a new one.
        prober?.socketError(error)
    }
}
