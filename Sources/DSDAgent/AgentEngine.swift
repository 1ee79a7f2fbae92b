import DSDCore
import DSDWire
import Dispatch
import FoundationEssentials
import Glibc
import Logging
import NIOCore
import NIOPosix

/// The agent's state that changes over time, confined to one event loop: the upstream
/// connection, writes waiting for their commit, watchers and heartbeat timers. The upstream
/// session's decisions (which server, when to retry, what to resume from) are the pure
/// `UpstreamSession`'s; the engine carries out its directives (`AgentEngine+Upstream`).
///
/// Reads never come here: they go straight to the `Replica`. Writes are forwarded to the
/// directory only while connected — when it is unreachable they fail at once, nothing is
/// queued. A write is acknowledged once the directory committed it *and* the replica holds the
/// change, so a reader on this host sees its own write as soon as the writer returns.
final class AgentEngine {
    struct Pending {
        var promise: EventLoopPromise<Version>
        var timeout: Scheduled<Void>
    }

    typealias Session = UpstreamSession<UpstreamFailure>

    let loop: any EventLoop
    let group: any EventLoopGroup
    let settings: AgentSettings
    let replica: Replica
    var logger: Logger
    /// Decides which server to connect to, when, and what follows (`AgentEngine+Upstream`).
    var session: Session
    /// The connections of the session's attempts still open, by attempt.
    var connections: [UInt64: UpstreamHandler] = [:]
    var retryTimer: Scheduled<Void>?
    var pingTimer: RepeatedTask?
    private var nextRequestID: UInt64 = 1
    private var pending: [UInt64: Pending] = [:]
    private var awaitingReplica: [(version: Version, promise: EventLoopPromise<Version>)] = []
    var watchers: [ObjectIdentifier: Watcher] = [:]
    var observers: [@Sendable ([ReplicaEvent]) -> Void] = []
    /// Who serves this replica further down (a `dsd node`): told of every applied batch of
    /// changes and every snapshot, on the loop, before the writes they commit are answered.
    var replicationObservers: [(ReplicaUpdate) -> Void] = []
    /// Watchers the agent does not hold itself (the mount's open `events` files), counted in
    /// status with its own.
    var watcherCounts: [@Sendable () -> Int] = []
    var heartbeats: HeartbeatTracker
    var heartbeatTimer: Scheduled<Void>?
    var cacheDirty = false
    /// When the engine was made: the agent is not connected since then until it first is.
    let startedAt = AgentEngine.now()
    private(set) var snapshotsReceived = 0
    /// A snapshot being built off the loop, and the changes that arrived since.
    private var installing: (token: UInt64, buffered: [Change])?
    private var nextInstall: UInt64 = 0
    /// How often the same connection failure is logged again.
    static let failureLogInterval: Duration = .seconds(30)
    private(set) var changesReceived = 0
    /// The directory's answer to the last write that it could not commit (`unavailable`:
    /// its log failed, or etcd has no quorum), until a write commits again; `status` shows it.
    private(set) var lastCommitFailure: (message: String, at: Instant)?

    init(loop: any EventLoop, group: any EventLoopGroup, settings: AgentSettings, replica: Replica, logger: Logger) {
        self.loop = loop
        self.group = group
        self.settings = settings
        self.replica = replica
        self.logger = logger
        self.session = Session(
            settings: Session.Settings(
                servers: settings.servers.count, reconnectMin: settings.reconnectMin,
                reconnectMax: settings.reconnectMax, failureLogInterval: Self.failureLogInterval),
            resume: replica.resumeVersion)
        self.heartbeats = HeartbeatTracker(settings: settings.heartbeat)
    }

    var isConnected: Bool { session.isConnected }

    /// The authenticated connection, if any: where writes, leases and pings go.
    var upstream: UpstreamHandler? { session.connectedAttempt.flatMap { connections[$0] } }

    // MARK: Replication

    func received(_ changes: [Change]) {
        // Changes after a snapshot that is still being built wait for it.
        if installing != nil {
            installing!.buffered += changes
            return
        }
        let events: [ReplicaEvent]
        do {
            events = try replica.apply(changes)
        } catch {
            logger.error("replica diverged; asking for a snapshot", metadata: ["error": "\(error)"])
            perform(session.onDiverged())
            return
        }
        if let version = replica.resumeVersion { session.onSynced(version: version) }
        changesReceived += changes.count
        for observer in replicationObservers { observer(.changes(changes)) }
        replicaChanged(events)
    }

    /// Builds the new replica off the event loop (a million entries take seconds), so the
    /// agent keeps answering from the replica it has and its writes keep flowing; changes that
    /// arrive meanwhile wait, and apply once the new replica is installed. A later snapshot
    /// replaces one still being built.
    func received(_ snapshot: Snapshot) {
        nextInstall += 1
        let token = nextInstall
        installing = (token, [])
        let old = replica.directory
        let settings = self.settings.directory
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        DispatchQueue.global(qos: .userInitiated).async {
            let built = Result { () throws(DirectoryError) -> (Directory, [ReplicaEvent]) in
                let fresh = try Directory(snapshot: snapshot, settings: settings)
                return (fresh, ReplicaEvent.difference(from: old, to: fresh))
            }
            loop.execute { bound.value.built(built, version: snapshot.version, token: token) }
        }
    }

    private func built(_ result: Result<(Directory, [ReplicaEvent]), DirectoryError>, version: Version, token: UInt64) {
        guard let pending = installing, pending.token == token else { return }
        installing = nil
        switch result {
        case .success(let (fresh, events)):
            replica.install(fresh)
            snapshotsReceived += 1
            session.onSynced(version: version)
            logger.info("snapshot applied", metadata: ["version": "\(version)"])
            for observer in replicationObservers { observer(.replaced) }
            replicaChanged(events)
        case .failure(let error):
            logger.error("snapshot refused", metadata: ["error": "\(error)"])
        }
        if !pending.buffered.isEmpty { received(pending.buffered) }
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
        guard let handler = upstream else {
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

    /// Resolves the tables of a batch and checks it against the replica (what the directory
    /// refuses, refused here with the operation's index, without a round trip), then
    /// forwards it.
    func submit(batch writes: [BatchWrite]) -> EventLoopFuture<Version> {
        let directory = replica.directory
        let checked = Result { () throws(DirectoryError) -> [Mutation] in
            var operations: [Mutation] = []
            operations.reserveCapacity(writes.count)
            for (index, write) in writes.enumerated() {
                guard let id = directory.translation.id(of: write.table) else {
                    throw .inBatch(index: index, .noSuchTable(write.table))
                }
                switch write {
                case .put(_, let entry): operations.append(.put(id, entry))
                case .delete(_, let key): operations.append(.delete(id, key: key))
                }
            }
            try directory.check(.batch(operations))
            return operations
        }
        switch checked {
        case .success(let operations): return submit(.batch(operations))
        case .failure(let error): return loop.makeFailedFuture(error)
        }
    }

    func responded(id: UInt64, _ result: RequestResult) {
        guard let waiting = pending.removeValue(forKey: id) else { return }
        waiting.timeout.cancel()
        switch result {
        case .ok(let version):
            lastCommitFailure = nil
            if replica.version >= version {
                waiting.promise.succeed(version)
            } else {
                awaitingReplica.append((version, waiting.promise))
            }
        case .failed(let code, let message):
            if code == .unavailable || code == .timeout {
                lastCommitFailure = (message, lastCommitFailure?.at ?? Self.now())
            }
            waiting.promise.fail(AgentError.rejected(code, message))
        }
    }

    private func timedOut(_ id: UInt64) {
        guard let waiting = pending.removeValue(forKey: id) else { return }
        waiting.promise.fail(AgentError.timedOut)
    }

    func failAllPending(_ error: AgentError) {
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
        switch session.state {
        case .idle: return .unavailable(.disconnected(since: wallClock(startedAt)))
        case .connecting(_, _, let since), .waiting(_, let since):
            return .unavailable(.disconnected(since: wallClock(since)))
        case .connected: return .unavailable(.disconnected(since: Date()))
        case .stopped: return .unavailable(.shuttingDown)
        }
    }

    // MARK: Status

    /// `text` cut to at most `limit` UTF-8 bytes, ending in "…" when cut: a status field
    /// (an error's sentence) always fits its frame.
    static func fitting(_ text: String, _ limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var cut = ""
        for character in text {
            guard cut.utf8.count + character.utf8.count <= limit - 3 else { break }
            cut.append(character)
        }
        return cut + "…"
    }

    func status() -> [StatusField] {
        var fields: [StatusField] = []
        func add(_ name: String, _ value: String) {
            fields.append(StatusField(name: name, value: Self.fitting(value, WireLimits.maxStatusFieldBytes)))
        }
        let directory = replica.directory
        add("host", settings.hostName)
        func notConnected(since: Instant) {
            add("state", replica.seeded ? "stale" : "empty")
            add("directory", settings.servers.map(\.description).joined(separator: ","))
            add("stale_since", wallClock(since).utcTimestamp)
        }
        switch session.state {
        case .connected(let server, _, let since):
            add("state", "connected")
            add("directory", "\(settings.servers[server])")
            add("connected_since", wallClock(since).utcTimestamp)
        case .connecting(_, _, let since), .waiting(_, let since): notConnected(since: since)
        case .idle: notConnected(since: startedAt)
        case .stopped: notConnected(since: Self.now())
        }
        add("last_error", session.lastFailure.map(\.description) ?? "none")
        add(
            "writes",
            lastCommitFailure.map { "failing since \(wallClock($0.at).utcTimestamp): \($0.message.prefix(600))" }
                ?? "committing")
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
