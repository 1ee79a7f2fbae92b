import DSDCore
import DSDWire
import Dispatch
import FoundationEssentials
import Glibc
import Logging
import NIOCore
import NIOPosix

/// The agent's decisions and state that change over time, confined to one event loop: the
/// upstream connection, writes waiting for their commit, watchers and heartbeat timers.
///
/// Reads never come here: they go straight to the `Replica`. Writes are forwarded to the
/// directory only while connected — when it is unreachable they fail at once, nothing is
/// queued. A write is acknowledged once the directory committed it *and* the replica holds the
/// change, so a reader on this host sees its own write as soon as the writer returns.
final class AgentEngine {
    enum Link {
        case disconnected(since: Date)
        case connecting(since: Date)
        case connected(UpstreamHandler, since: Date)
    }

    struct Pending {
        var promise: EventLoopPromise<Version>
        var timeout: Scheduled<Void>
    }

    let loop: any EventLoop
    let group: any EventLoopGroup
    let settings: AgentSettings
    let replica: Replica
    var logger: Logger
    private(set) var link: Link
    private var backoff: ReconnectBackoff
    private var serverIndex = 0
    private var nextRequestID: UInt64 = 1
    private var pending: [UInt64: Pending] = [:]
    private var awaitingReplica: [(version: Version, promise: EventLoopPromise<Version>)] = []
    var watchers: [ObjectIdentifier: Watcher] = [:]
    var observers: [@Sendable ([ReplicaEvent]) -> Void] = []
    /// Watchers the agent does not hold itself (the mount's open `events` files), counted in
    /// status with its own.
    var watcherCounts: [@Sendable () -> Int] = []
    var heartbeats: HeartbeatTracker
    var heartbeatTimer: Scheduled<Void>?
    private var stopped = false
    private var pingTimer: RepeatedTask?
    var cacheDirty = false
    let startedAt = Date()
    private(set) var snapshotsReceived = 0
    /// Why the agent is not connected (the last failed attempt or the lost link); nil once
    /// connected. Shown as `last_error`.
    private(set) var lastFailure: UpstreamFailure?
    /// Keeps a retry loop against an absent directory from flooding the log.
    private var failureLog = RepeatLimiter<UpstreamFailure>(interval: AgentEngine.failureLogInterval)
    /// How often the same connection failure is logged again.
    static let failureLogInterval: Duration = .seconds(30)
    private(set) var changesReceived = 0

    init(loop: any EventLoop, group: any EventLoopGroup, settings: AgentSettings, replica: Replica, logger: Logger) {
        self.loop = loop
        self.group = group
        self.settings = settings
        self.replica = replica
        self.logger = logger
        self.link = .disconnected(since: Date())
        self.backoff = ReconnectBackoff(minimum: settings.reconnectMin, maximum: settings.reconnectMax)
        self.heartbeats = HeartbeatTracker(settings: settings.heartbeat)
    }

    var isConnected: Bool {
        if case .connected = link { return true }
        return false
    }

    // MARK: Connection life cycle

    func start() {
        loop.preconditionInEventLoop()
        connect()
        let bound = NIOLoopBound(self, eventLoop: loop)
        pingTimer = loop.scheduleRepeatedTask(
            initialDelay: TimeAmount(settings.pingInterval), delay: TimeAmount(settings.pingInterval)
        ) { _ in bound.value.ping() }
    }

    func stop() {
        loop.preconditionInEventLoop()
        stopped = true
        pingTimer?.cancel()
        heartbeatTimer?.cancel()
        if case .connected(let handler, _) = link { handler.close() }
        failAllPending(.unavailable(.shuttingDown))
    }

    private func connect() {
        guard !stopped else { return }
        let endpoint = settings.servers[serverIndex % settings.servers.count]
        if case .disconnected = link { link = .connecting(since: Date()) }
        let bound = NIOLoopBound(self, eventLoop: loop)
        let settings = self.settings
        let logger = self.logger
        ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(settings.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let limit = FrameLimit()
                    let seal = SessionSeal()
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: TimeAmount(settings.pingInterval * PeerTiming.silenceLimit)),
                        ByteToMessageHandler(FrameDecoder(limit: limit, seal: seal)),
                        RecordSealer(seal: seal),
                        MessageToByteHandler(FrameEncoder()),
                        HandshakeHandler(
                            handshake: UpstreamHandler.handshake(settings: settings),
                            settings: .init(timeout: TimeAmount(settings.connectTimeout)), frameLimit: limit,
                            seal: seal),
                        UpstreamHandler(engine: bound.value, endpoint: endpoint, logger: logger),
                    ])
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .whenFailure { error in
                bound.value.connectFailed(endpoint, error)
            }
    }

    private func connectFailed(_ endpoint: AgentSettings.Endpoint, _ error: any Error) {
        upstreamFailed(UpstreamFailure(connecting: endpoint, error))
        retryLater()
    }

    /// Records why the agent is not connected and logs it, rate-limited.
    private func upstreamFailed(_ failure: UpstreamFailure) {
        lastFailure = failure
        guard !stopped else { return }
        let now = Instant(nanoseconds: NIODeadline.now().uptimeNanoseconds)
        switch failureLog.onFailure(failure, now: now) {
        case .log(let suppressed):
            var metadata: Logger.Metadata = ["reason": "\(failure)"]
            if suppressed > 0 { metadata["repeats"] = "\(suppressed)" }
            logger.warning("not connected to the directory", metadata: metadata)
        case .skip:
            break
        }
    }

    private func retryLater() {
        guard !stopped else { return }
        serverIndex += 1
        let delay = backoff.onFailure(random: Double.random(in: 0..<1))
        let bound = NIOLoopBound(self, eventLoop: loop)
        loop.scheduleTask(in: TimeAmount(delay)) { bound.value.connect() }
    }

    /// The handshake with the directory succeeded.
    func connected(_ handler: UpstreamHandler) {
        backoff.onSuccess()
        failureLog.onSuccess()
        lastFailure = nil
        link = .connected(handler, since: Date())
        logger.info(
            "connected to directory",
            metadata: [
                "server": "\(handler.endpoint)", "resume": "\(replica.resumeVersion.map { "\($0)" } ?? "snapshot")",
            ])
        handler.send(
            .announce(Announce(bootID: settings.bootID, probePort: settings.probePort, routes: settings.routes)))
        sendLeases(handler)
        handler.send(.sync(from: replica.resumeVersion))
    }

    /// The connection closed (or never completed its handshake); `failure` says why when the
    /// handler knows (a failed handshake, silence).
    func disconnected(_ handler: UpstreamHandler, wasAuthenticated: Bool, failure: UpstreamFailure?) {
        if case .connected(let current, _) = link, current !== handler { return }
        if wasAuthenticated && !stopped {
            logger.warning(
                "lost the directory; serving the replica as stale", metadata: ["server": "\(handler.endpoint)"])
            lastFailure = failure ?? .lost(handler.endpoint)
        } else {
            upstreamFailed(failure ?? .closedDuringHandshake(handler.endpoint))
        }
        link = .disconnected(since: Date())
        failAllPending(.connectionLost)
        retryLater()
    }

    private func ping() {
        guard case .connected(let handler, _) = link else { return }
        handler.send(.ping(UInt64(DispatchTime.now().uptimeNanoseconds)))
    }

    // MARK: Replication

    func received(_ changes: [Change]) {
        let events: [ReplicaEvent]
        do {
            events = try replica.apply(changes)
        } catch {
            logger.error("replica diverged; asking for a snapshot", metadata: ["error": "\(error)"])
            if case .connected(let handler, _) = link { handler.send(.sync(from: nil)) }
            return
        }
        changesReceived += changes.count
        replicaChanged(events)
    }

    func received(_ snapshot: Snapshot) {
        do {
            let events = try replica.replace(with: snapshot, settings: settings.directory)
            snapshotsReceived += 1
            logger.info("snapshot applied", metadata: ["version": "\(snapshot.version)"])
            replicaChanged(events)
        } catch {
            logger.error("snapshot refused", metadata: ["error": "\(error)"])
        }
    }

    private func replicaChanged(_ events: [ReplicaEvent]) {
        cacheDirty = true
        let version = replica.version
        if !awaitingReplica.isEmpty {
            var still: [(version: Version, promise: EventLoopPromise<Version>)] = []
            for waiter in awaitingReplica {
                if waiter.version <= version { waiter.promise.succeed(waiter.version) } else { still.append(waiter) }
            }
            awaitingReplica = still
        }
        guard !events.isEmpty else { return }
        heartbeatsSaw(events)
        for observer in observers { observer(events) }
        deliverToWatchers(events)
    }

    // MARK: Writes

    /// Forwards a write to the directory; succeeds once committed and in the replica.
    func submit(_ request: DirectoryRequest) -> EventLoopFuture<Version> {
        loop.preconditionInEventLoop()
        let promise = loop.makePromise(of: Version.self)
        guard case .connected(let handler, _) = link else {
            promise.fail(unreachableReason())
            return promise.futureResult
        }
        let id = nextRequestID
        nextRequestID += 1
        let bound = NIOLoopBound(self, eventLoop: loop)
        let timeout = loop.scheduleTask(in: TimeAmount(settings.requestTimeout)) {
            bound.value.timedOut(id)
        }
        pending[id] = Pending(promise: promise, timeout: timeout)
        handler.send(.request(id: id, request))
        return promise.futureResult
    }

    /// Resolves a table name and forwards a write for it.
    func submit(table: String, _ make: (TableID) -> DirectoryRequest) -> EventLoopFuture<Version> {
        guard let id = replica.read({ $0.translation.id(of: table) }) else {
            return loop.makeFailedFuture(AgentError.noSuchTable(table))
        }
        return submit(make(id))
    }

    func responded(id: UInt64, _ result: RequestResult) {
        guard let waiting = pending.removeValue(forKey: id) else { return }
        waiting.timeout.cancel()
        switch result {
        case .ok(let version):
            if replica.version >= version {
                waiting.promise.succeed(version)
            } else {
                awaitingReplica.append((version, waiting.promise))
            }
        case .failed(let code, let message):
            waiting.promise.fail(AgentError.rejected(code, message))
        }
    }

    private func timedOut(_ id: UInt64) {
        guard let waiting = pending.removeValue(forKey: id) else { return }
        waiting.promise.fail(AgentError.timedOut)
    }

    private func failAllPending(_ error: AgentError) {
        let all = pending
        pending = [:]
        for (_, waiting) in all {
            waiting.timeout.cancel()
            waiting.promise.fail(error)
        }
        let waiters = awaitingReplica
        awaitingReplica = []
        for waiter in waiters { waiter.promise.fail(error) }
    }

    /// Why a write cannot be forwarded now.
    private func unreachableReason() -> AgentError {
        guard replica.seeded else { return .notSynced }
        switch link {
        case .disconnected(let since), .connecting(let since): return .unavailable(.disconnected(since: since))
        case .connected: return .unavailable(.disconnected(since: Date()))
        }
    }

    // MARK: Status

    func status() -> [StatusField] {
        var fields: [StatusField] = []
        func add(_ name: String, _ value: String) { fields.append(StatusField(name: name, value: value)) }
        let directory = replica.directory
        add("host", settings.hostName)
        switch link {
        case .connected(let handler, let since):
            add("state", "connected")
            add("directory", "\(handler.endpoint)")
            add("connected_since", since.utcTimestamp)
        case .connecting(let since), .disconnected(let since):
            add("state", replica.seeded ? "stale" : "empty")
            add("directory", settings.servers.map(\.description).joined(separator: ","))
            add("stale_since", since.utcTimestamp)
        }
        add("last_error", lastFailure.map(\.description) ?? "none")
        add("version", "\(directory.version)")
        add("tables", "\(directory.tableCount)")
        add("entries", "\(directory.entryCount)")
        add("changes_received", "\(changesReceived)")
        add("snapshots_received", "\(snapshotsReceived)")
        add("heartbeats", "\(heartbeats.armedCount)")
        add("watchers", "\(watcherCounts.reduce(watchers.count) { $0 + $1() })")
        add("pending_writes", "\(pending.count)")
        add("socket", settings.socketPath)
        return fields
    }
}
