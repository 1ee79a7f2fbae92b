import DSDAgent
import DSDCore
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Everything `dsd node` needs: the agent it is upward, the directory it is downward.
public struct NodeSettings: Sendable {
    /// Listen address, cluster key, name and connection limits of the downstream side (its
    /// data directory is not used).
    public var server: ServerSettings
    /// The upstreams, host name and socket of the upward side; its replica keeps a history
    /// for the peers below (`NodeSettings.history`).
    public var agent: AgentSettings

    public init(server: ServerSettings, agent: AgentSettings) {
        self.server = server
        self.agent = agent
        self.agent.directory = Self.history
    }

    /// The node's replica keeps the root's last 65,536 changes, as a directory does, with
    /// continuous versions: it received every change in order, so any version since its base
    /// names a state it can serve a delta from.
    public static let history = Directory.Settings(retainedChanges: 65_536, continuousVersions: true)
}

/// A `dsd node`: an agent of the layer above and a directory for the layer below (FIG. 7).
public final class DirectoryNode: Service, Sendable {
    public let settings: NodeSettings
    public let agent: Agent
    private let logger: Logger
    private let listener = Mutex<(any Channel)?>(nil)
    private let engine = Mutex<NIOLoopBound<NodeEngine>?>(nil)
    private let publisher = Mutex<Task<Void, Never>?>(nil)

    /// The table nodes publish themselves in: `<name> → <listen address>`, valid while the
    /// node lives (heartbeated through its own agent, so a dead node's entry turns invalid
    /// everywhere after the directory's agent timeout).
    public static let nodesTable = "DSD_NODES"
    /// Time_Max of a node's entry, and how often it is touched.
    static let publishTimeMax: Duration = .seconds(3)
    static let publishInterval: Duration = .seconds(1)

    public init(settings: NodeSettings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        self.agent = try Agent(settings: settings.agent, logger: logger)
    }

    /// Starts the upward agent, then listens for the peers below. Returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        try await agent.start()
        let loop = agent.eventLoop
        let agent = self.agent
        let logger = self.logger
        let server = settings.server
        let engine = try await loop.flatSubmit {
            let engine = NodeEngine(agent: agent, settings: server, logger: logger)
            let bound = NIOLoopBound(engine, eventLoop: loop)
            return engine.start().map { bound }
        }.get()
        let channel = try await DirectoryServer.listen(
            group: loop, settings: settings.server, logger: logger, engine: engine)
        listener.withLock { $0 = channel }
        self.engine.withLock { $0 = engine }
        let port = channel.localAddress?.port ?? settings.server.port
        publish(address: "\(settings.server.host):\(port)")
        logger.info(
            "node listening",
            metadata: [
                "address": "\(settings.server.host):\(port)",
                "upstream": "\(settings.agent.servers.map(\.description).joined(separator: ","))",
            ])
        return port
    }

    /// Keeps `DSD_NODES/<name> → address` valid while the node runs: the table is created if
    /// missing, the entry put, then touched every second (Time_Max 3 s). Failures (the
    /// directory away) are retried on the next round.
    private func publish(address: String) {
        let agent = self.agent
        let name = settings.agent.hostName
        let logger = self.logger
        let task = Task.detached {
            var published = false
            while !Task.isCancelled {
                do throws(AgentError) {
                    if !published {
                        if agent.replica.read({ $0.table(named: Self.nodesTable) }) == nil {
                            do throws(AgentError) {
                                _ = try agent.createTable(Self.nodesTable)
                            } catch {
                                guard case .rejected(.tableExists, _) = error else { throw error }
                            }
                        }
                        _ = try agent.put(table: Self.nodesTable, entry: Entry(key: name, value: address))
                        published = true
                        logger.info("node published", metadata: ["table": "\(Self.nodesTable)", "key": "\(name)"])
                    }
                    _ = try agent.heartbeat(table: Self.nodesTable, key: name, timeMax: Self.publishTimeMax)
                } catch {
                    logger.debug("node entry not touched", metadata: ["error": "\(error)"])
                    if case .rejected = error { published = false }
                }
                try? await Task.sleep(for: Self.publishInterval)
            }
        }
        publisher.withLock { $0 = task }
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
        logger.info("node shutting down")
        publisher.withLock { $0?.cancel() }
        if let engine = engine.withLock({ $0 }) { try? await engine.eventLoop.submit { engine.value.stop() }.get() }
        try? await channel.close()
        try await agent.shutdown()
    }
}
