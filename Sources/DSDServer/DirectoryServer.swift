/// DSDServer: the directory's driver.
///
/// `DirectoryServer` opens the write-ahead log (replaying it into a `Directory`), listens for
/// agents, nodes and backup directories, and runs every connection and the commit pipeline
/// (`DirectoryEngine`) on one event loop: no locks around the directory, and pushes leave in
/// commit order. The loop itself writes and syncs the log, one batch per loop iteration.
/// Decisions live in pure machines (`Handshake`, `PeerFeed`, `Promotion`); this module only
/// carries them out.
import DSDCore
import DSDEtcd
import DSDLog
import DSDPosix
import DSDWire
import FoundationEssentials
import Glibc
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

public final class DirectoryServer: Service, Sendable {
    public let settings: ServerSettings
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let started: Mutex<(channel: any Channel, stop: @Sendable () async -> Void)?>
    /// The data directory's lock, held from before replay until shutdown.
    private let dataLock = Mutex<LockFile?>(nil)

    public init(settings: ServerSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.started = Mutex(nil)
    }

    /// Opens the log and binds the listener. Returns the bound port (useful with port 0).
    @discardableResult
    public func start() async throws -> Int {
        if let etcd = settings.etcd { return try await start(on: etcd) }
        let lock = try Self.lockDataDirectory(settings.dataDirectory)
        dataLock.withLock { $0 = lock }
        let (history, writer) = try WriteAheadLog.open(
            directory: settings.dataDirectory, settings: settings.log, logger: logger, as: ReplayedHistory.self)
        // A directory that starts empty picks an epoch from the wall clock (seconds since
        // 2025, a 4-byte varint on the wire), so that its history is distinguishable from any
        // earlier one whose replicas might still be around.
        let newEpoch = UInt64(max(1, Date().timeIntervalSince1970 - 1_735_689_600))
        let directory = try history.directory(settings: settings.directory, newEpoch: newEpoch)
        logger.info(
            "directory opened",
            metadata: [
                "version": "\(directory.version)", "tables": "\(directory.tableCount)",
                "entries": "\(directory.entryCount)", "data": "\(settings.dataDirectory)",
            ])
        let leases: [AgentLiveness.PersistedAgent]
        do {
            leases = try LeaseStore.load(directory: settings.dataDirectory)
        } catch {
            leases = []
            logger.warning(
                "cannot read the agents' leases; starting without them",
                metadata: ["file": "\(settings.dataDirectory)/\(LeaseStore.fileName)", "error": "\(error)"])
        }
        let loop = group.next()
        let settings = self.settings
        let logger = self.logger
        let engine = try await loop.submit {
            let engine = DirectoryEngine(
                loop: loop, directory: directory, writer: writer, settings: settings, logger: logger, leases: leases)
            engine.livenessStarted()
            engine.watchForStalls()
            return NIOLoopBound(engine, eventLoop: loop)
        }.get()
        // Route probing starts before the listener, so every announce finds the prober.
        try await loop.flatSubmit {
            RouteProber.start(engine: engine.value).map { engine.value.routeProber = $0 }
        }.get()
        let channel = try await listen(engine: engine)
        started.withLock {
            $0 = (channel, { try? await engine.eventLoop.submit { engine.value.shuttingDown() }.get() })
        }
        let port = channel.localAddress?.port ?? settings.port
        logger.info("listening", metadata: ["address": "\(settings.host):\(port)"])
        return port
    }

    /// Reads the directory from etcd, starts its watch and its part in the election, and
    /// binds the listener.
    private func start(on etcd: EtcdBackend) async throws -> Int {
        let client = EtcdClient(endpoints: etcd.endpoints, settings: etcd.client, group: group)
        let layout = EtcdLayout(prefix: etcd.prefix)
        let newEpoch = UInt64(max(1, Date().timeIntervalSince1970 - 1_735_689_600))
        let opening: EtcdOpening
        let epoch = try await EtcdOpening.epoch(client: client, layout: layout, newEpoch: newEpoch)
        if let path = etcd.cachePath,
            let cached = EtcdOpening.cached(at: path, epoch: epoch, settings: settings.directory, logger: logger)
        {
            opening = cached
            logger.info(
                "directory read from the cache; etcd's changes since follow by watch",
                metadata: [
                    "revision": "\(cached.revision)", "entries": "\(cached.directory.entryCount)", "cache": "\(path)",
                ])
        } else {
            opening = try await EtcdOpening.read(
                client: client, layout: layout, settings: settings.directory, newEpoch: newEpoch)
            logger.info("directory listed from etcd (the whole prefix)", metadata: ["revision": "\(opening.revision)"])
        }
        for key in opening.unreadable {
            logger.warning("ignoring a key under the prefix that is no directory entry", metadata: ["key": "\(key)"])
        }
        logger.info(
            "directory opened on etcd",
            metadata: [
                "version": "\(opening.directory.version)", "tables": "\(opening.directory.tableCount)",
                "entries": "\(opening.directory.entryCount)", "etcd": "\(etcd.endpoints.map(\.description))",
                "prefix": "\(etcd.prefix)",
            ])
        let loop = group.next()
        let settings = self.settings
        let logger = self.logger
        let engine = try await loop.submit {
            let engine = EtcdDirectoryEngine(
                loop: loop, settings: settings, backend: etcd, logger: logger, client: client, opened: opening)
            engine.startWatch()
            engine.startElection()
            engine.startCaching()
            return NIOLoopBound(engine, eventLoop: loop)
        }.get()
        let channel = try await listen(engine: engine)
        started.withLock {
            $0 = (channel, { await EtcdDirectoryEngine.stop(engine) })
        }
        let port = channel.localAddress?.port ?? settings.port
        logger.info("listening", metadata: ["address": "\(settings.host):\(port)"])
        return port
    }

    private func listen<Engine: PeerHost>(engine: NIOLoopBound<Engine>) async throws -> any Channel {
        try await Self.listen(group: group, settings: settings, logger: logger, engine: engine)
    }

    /// Binds the directory's listener on `group`: every connection's pipeline ends in a
    /// `PeerConnection` of `engine` (a directory on its log, on etcd, or a node).
    static func listen<Engine: PeerHost>(
        group: any EventLoopGroup, settings: ServerSettings, logger: Logger, engine: NIOLoopBound<Engine>
    ) async throws -> any Channel {
        let connections = ManagedAtomicCounter()
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(
                .writeBufferWaterMark,
                value: .init(low: settings.maxPendingBytesPerPeer / 2, high: settings.maxPendingBytesPerPeer)
            )
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard connections.increment() <= settings.maxConnections else {
                        connections.decrement()
                        logger.warning("connection limit reached; refusing")
                        channel.close(promise: nil)
                        return
                    }
                    channel.closeFuture.whenComplete { _ in connections.decrement() }
                    let limit = FrameLimit()
                    let seal = SessionSeal()
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: TimeAmount(settings.idleTimeout)),
                        ByteToMessageHandler(FrameDecoder(limit: limit, seal: seal)),
                        RecordSealer(seal: seal),
                        FramesOut(),
                        MessageToByteHandler(FrameEncoder()),
                        HandshakeHandler(
                            handshake: PeerConnection.handshake(settings: settings),
                            settings: .init(timeout: TimeAmount(settings.handshakeTimeout)), frameLimit: limit,
                            seal: seal),
                        PeerConnection(engine: engine.value),
                    ])
                }
            }
            .bind(host: settings.host, port: settings.port).get()
    }

    /// Serves until graceful shutdown (SIGTERM/SIGINT through the service group), then closes
    /// the listener, every connection and the log.
    public func run() async throws {
        if started.withLock({ $0 == nil }) { try await start() }
        try await gracefulShutdown()
        try await shutdown()
    }

    /// Creates the data directory if needed and takes its lock (`DATA/lock`) before anything
    /// reads the log: a second directory on the same data would append to the same log.
    static func lockDataDirectory(_ path: String) throws(ServerStartError) -> LockFile {
        do throws(LockFile.Failure) {
            return try LockFile.acquire(path + "/lock")
        } catch {
            switch error {
            case .held(_, let pid): throw .dataDirectoryInUse(path: path, pid: pid)
            case .unusable(let reason): throw .dataDirectoryUnusable(path: path, reason)
            }
        }
    }

    /// Stops serving and closes the log.
    public func shutdown() async throws {
        guard
            let (channel, stop) = started.withLock({ value in
                defer { value = nil }; return value
            })
        else {
            return
        }
        logger.info("shutting down")
        await stop()
        try? await channel.close()
        try await group.shutdownGracefully()
        dataLock.withLock { $0 = nil }
    }
}

/// Why the directory could not start, before it serves anything.
public enum ServerStartError: Error, Sendable, CustomStringConvertible {
    /// Another process holds `DATA/lock`.
    case dataDirectoryInUse(path: String, pid: Int32?)
    /// The data directory cannot be created or locked.
    case dataDirectoryUnusable(path: String, PosixError)

    public var description: String {
        switch self {
        case .dataDirectoryInUse(let path, let pid):
            "the data directory \(path) is in use by another dsd server or dsd up"
                + (pid.map { " (pid \($0))" } ?? "") + "; stop it first, or give this one another --data"
        case .dataDirectoryUnusable(let path, let error):
            "cannot use the data directory \(path): \(error.operation): \(error.reason)"
        }
    }
}

/// A thread-safe counter of open connections.
final class ManagedAtomicCounter: Sendable {
    private let value = Mutex(0)

    func increment() -> Int {
        value.withLock {
            $0 += 1; return $0
        }
    }
    func decrement() { value.withLock { $0 -= 1 } }
}
