/// DSDAgent: the agent's driver.
///
/// An agent keeps a full replica of the directory (`Replica`), fed by one upstream
/// connection (`UpstreamHandler`) that resumes from the replica's version after every
/// reconnect, and serves local clients on a Unix socket (`LocalClientHandler`). Reads are
/// answered from the replica under its lock, from any thread; everything that changes over
/// time — the connection, pending writes, watchers, heartbeat timers — lives in
/// `AgentEngine` on one event loop. The filesystem plugs in through `Agent`'s blocking calls
/// and `observe(_:)`.
import DSDCore
import DSDPosix
import DSDWire
import FoundationEssentials
import Glibc
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

public final class Agent: Service, Sendable {
    public let settings: AgentSettings
    public let replica: Replica
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    private let engine: NIOLoopBound<AgentEngine>
    private let listener: Mutex<(any Channel)?> = Mutex(nil)
    private let cacheTask: Mutex<RepeatedTask?> = Mutex(nil)
    private let cacheWriter = Mutex(())
    /// Sockets answering route probes (`ProbeResponder`).
    private let probeResponder: Mutex<ProbeResponder?> = Mutex(nil)
    /// The locks of the socket and the replica cache, held for the agent's life.
    private let locks: [LockFile]

    /// Takes the locks of the socket and the cache (another agent on either is refused),
    /// then loads the replica cache when there is one.
    public init(settings: AgentSettings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        var locks = [try AgentStartError.lock("socket", at: settings.socketPath)]
        if let cache = settings.cachePath { locks.append(try AgentStartError.lock("replica cache", at: cache)) }
        self.locks = locks
        var directory = Directory(epoch: 0, settings: settings.directory)
        var seeded = false
        if let path = settings.cachePath {
            do {
                if let snapshot = try ReplicaCache.load(path: path) {
                    directory = try Directory(snapshot: snapshot, settings: settings.directory)
                    seeded = true
                    logger.info(
                        "replica loaded from cache (stale until the directory answers)",
                        metadata: ["version": "\(snapshot.version)", "cache": "\(path)"])
                }
            } catch {
                logger.warning(
                    "ignoring unreadable replica cache", metadata: ["cache": "\(path)", "error": "\(error)"])
            }
        }
        let replica = Replica(directory: directory, seeded: seeded)
        self.replica = replica
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let loop = group.next()
        self.loop = loop
        self.engine = try loop.submit {
            NIOLoopBound(
                AgentEngine(loop: loop, group: group, settings: settings, replica: replica, logger: logger),
                eventLoop: loop)
        }.wait()
    }

    /// The loop the agent's engine runs on: a node serves its peers from it, so replica
    /// updates, forwarded writes and pushes need no locks between them.
    public var eventLoop: any EventLoop { loop }

    /// Tells `observer`, on `eventLoop`, of every batch of changes the replica applied and
    /// every snapshot that replaced it, before the writes they commit are answered.
    public func observeReplication(_ observer: @escaping (ReplicaUpdate) -> Void) {
        loop.preconditionInEventLoop()
        engine.value.replicationObservers.append(observer)
    }

    /// Forwards a write to the directory (on `eventLoop`); the future succeeds once the
    /// directory committed it and the replica holds it.
    public func forward(_ request: DirectoryRequest) -> EventLoopFuture<Version> {
        loop.preconditionInEventLoop()
        return engine.value.submit(request)
    }

    /// Binds the local socket and starts connecting to the directory.
    public func start() async throws {
        // The socket's directory was created with its lock, in `init`.
        let path = settings.socketPath
        let engine = self.engine
        let channel = try await ServerBootstrap(group: loop)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(FrameDecoder()),
                        MessageToByteHandler(FrameEncoder()),
                        LocalClientHandler(engine: engine.value),
                    ])
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        if let group = settings.socketGroup { chown(path, uid_t.max, group) }
        chmod(path, 0o660)
        listener.withLock { $0 = channel }
        let responder = ProbeResponder(settings: settings, loop: loop, logger: logger)
        await responder.start()
        probeResponder.withLock { $0 = responder }
        try await loop.submit { engine.value.start() }.get()
        startCacheWriter()
        logger.info("agent started", metadata: ["socket": "\(path)", "host": "\(settings.hostName)"])
    }

    public func run() async throws {
        if listener.withLock({ $0 == nil }) { try await start() }
        try await gracefulShutdown()
        try await shutdown()
    }

    public func shutdown() async throws {
        guard
            let channel = listener.withLock({ value in
                defer { value = nil }; return value
            })
        else { return }
        cacheTask.withLock { $0?.cancel() }
        let engine = self.engine
        try? await loop.submit { engine.value.stop() }.get()
        try? await channel.close()
        await probeResponder.withLock({ value in
            defer { value = nil }; return value
        })?.stop()
        writeCache()
        try await group.shutdownGracefully()
        unlink(settings.socketPath)
    }

    // MARK: Cache

    private func startCacheWriter() {
        guard let path = settings.cachePath else { return }
        let engine = self.engine
        let task = loop.scheduleRepeatedTask(
            initialDelay: TimeAmount(settings.cacheInterval), delay: TimeAmount(settings.cacheInterval)
        ) {
            [weak self] _ in
            guard let self, engine.value.cacheDirty, engine.value.replica.seeded else { return }
            engine.value.cacheDirty = false
            // An O(1) copy here; the snapshot and the file are made on their own thread.
            let directory = engine.value.replica.directory
            PosixThread.detach { self.saveCache(directory, path: path) }
        }
        cacheTask.withLock { $0 = task }
    }

    private func writeCache() {
        guard let path = settings.cachePath, replica.seeded else { return }
        saveCache(replica.directory, path: path)
    }

    /// Writes the cache file; one write at a time, so two never share the temporary file.
    private func saveCache(_ directory: Directory, path: String) {
        cacheWriter.withLock { _ in
            do { try ReplicaCache.save(directory.snapshot(), path: path) } catch {
                logger.warning("could not write the replica cache", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: API for in-process users (the filesystem, `dsd up`)

    /// Calls `observer` with every batch of replica changes, on the agent's loop, in order.
    /// The observer must not block.
    public func observe(_ observer: @escaping @Sendable ([ReplicaEvent]) -> Void) {
        let engine = self.engine
        try? loop.submit { engine.value.observers.append(observer) }.wait()
    }

    /// Adds `count` to the `watchers` of status: subscriptions served elsewhere (the mount's
    /// `events` files). `count` is called on the agent's loop and must not block.
    public func countWatchers(_ count: @escaping @Sendable () -> Int) {
        let engine = self.engine
        try? loop.submit { engine.value.watcherCounts.append(count) }.wait()
    }

    /// Forwards a write and blocks until it is committed and in the replica. Never call from
    /// the agent's own event loop.
    public func put(table: String, entry: Entry) throws(AgentError) -> Version {
        try wait { $0.submit(table: table) { .put($0, entry) } }
    }

    public func delete(table: String, key: String) throws(AgentError) -> Version {
        if replica.read({ $0.entry(table: table, key: key) }) == nil {
            throw replica.read({ $0.table(named: table) }) == nil
                ? .noSuchTable(table) : .notFound(table: table, key: key)
        }
        return try wait { $0.submit(table: table) { .delete($0, key: key) } }
    }

    /// Commits `writes` all or none under one version (see `AgentClient.batch`); a refusal is
    /// `.rejected`, its sentence naming the operation.
    public func batch(_ writes: [BatchWrite]) throws(AgentError) -> Version {
        try wait { $0.submit(batch: writes) }
    }

    public func createTable(_ name: String) throws(AgentError) -> Version {
        try wait { $0.submit(.createTable(name: name)) }
    }

    /// Drops the table with its entries.
    public func dropTable(_ name: String) throws(AgentError) -> Version {
        try wait { $0.submit(table: name) { .dropTable($0) } }
    }

    /// Drops the table only if it holds no entry; else `.rejected(.notEmpty, …)`.
    public func dropEmptyTable(_ name: String) throws(AgentError) -> Version {
        try wait { $0.submit(table: name) { .dropEmptyTable($0) } }
    }

    /// A heartbeat; nil when it stayed local (the entry was already valid).
    public func heartbeat(table: String, key: String, timeMax: Duration?) throws(AgentError) -> Version? {
        let engine = self.engine
        do {
            return try loop.flatSubmit { engine.value.heartbeat(table: table, key: key, timeMax: timeMax) }.wait()
        } catch let error as AgentError {
            throw error
        } catch let error as DirectoryError {
            // A batch refused against the replica before it was sent.
            throw .rejected(ErrorCode(error), error.description(naming: replica.read { $0.translation }))
        } catch {
            // Only the loop's own failure is left: it stopped, the agent is shutting down.
            throw .unavailable(.shuttingDown)
        }
    }

    /// Waits until the agent is connected and its replica holds the directory's state.
    public func waitForSync(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        let engine = self.engine
        while ContinuousClock.now < deadline {
            let ready =
                (try? await loop.submit { engine.value.isConnected && engine.value.replica.seeded }.get()) ?? false
            if ready { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    public func status() -> [StatusField] {
        let engine = self.engine
        return (try? loop.submit { engine.value.status() }.wait()) ?? []
    }

    private func wait(_ body: @escaping @Sendable (AgentEngine) -> EventLoopFuture<Version>) throws(AgentError)
        -> Version
    {
        let engine = self.engine
        do {
            return try loop.flatSubmit { body(engine.value) }.wait()
        } catch let error as AgentError {
            throw error
        } catch let error as DirectoryError {
            // A batch refused against the replica before it was sent.
            throw .rejected(ErrorCode(error), error.description(naming: replica.read { $0.translation }))
        } catch {
            // Only the loop's own failure is left: it stopped, the agent is shutting down.
            throw .unavailable(.shuttingDown)
        }
    }
}
