import ArgumentParser
import DSDAgent
import DSDClient
import DSDCore
import DSDPosix
import DSDServer
import FoundationEssentials
import Glibc
import Logging
import ServiceLifecycle

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run a directory and an agent in one process: dsd on one machine.",
        discussion: """
            Example:
              mkdir -p /dsd
              dsd up --data /tmp/dsd --socket /tmp/dsd/agent.sock --mount /dsd \\
                     --seed mount-examples/seed-tables.txt
              dsd find MDS.1 --socket /tmp/dsd/agent.sock
              cat /dsd/find/MDS.1
            The data directory and a cluster key (mode 0600) are created on first start.
            """
    )

    @Option(name: .long, help: "Address the directory listens on, HOST:PORT (other agents may join).")
    var listen = "127.0.0.1:7400"
    @Option(name: .long, help: "Data directory (log, snapshots, cluster key, replica cache).")
    var data =
        getuid() == 0 ? "/var/lib/dsd" : FileManager.default.homeDirectoryForCurrentUser.path + "/.local/share/dsd"
    @Option(name: .long, help: "Cluster key file (default DATA/cluster.key, created when missing).")
    var clusterKey: String?
    @Option(name: .long, help: "Load this file (`dsd load` format) once the directory is up, if the tables are empty.")
    var seed: String?
    @OptionGroup var agent: AgentOptions
    @OptionGroup var liveness: LivenessOptions
    @OptionGroup var mount: MountOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws { _ = try parseAddress(listen, option: "--listen") }

    func run() async throws {
        let logger = logging.makeLogger("dsd.up")
        let (host, port) = try parseAddress(listen, option: "--listen")
        let key = try loadClusterKey(path: clusterKey ?? data + "/cluster.key", create: true)
        var serverSettings = ServerSettings(
            host: host, port: port, dataDirectory: data + "/log", clusterKey: key, name: agent.hostName)
        serverSettings.liveness = liveness.agents
        serverSettings.routeProbing = liveness.routes
        let server = DirectoryServer(settings: serverSettings, logger: logger)
        let bound = try await startServer(server, listen: listen, data: data + "/log")
        let settings = AgentSettings(
            servers: [.init(host: host, port: bound)], hostName: agent.hostName, clusterKey: key,
            socketPath: agent.socket, cachePath: agent.cache ?? data + "/replica.cache",
            socketGroup: mount.writerGroup == 0 ? nil : mount.writerGroup)
        let service = try Agent(settings: settings, logger: logger)
        var services: [any Service] = [server, service]
        if let mountpoint = mount.mount {
            services.append(try MountService(agent: service, options: mount, mountpoint: mountpoint, logger: logger))
        }
        try await startAgent(service)
        if let seed {
            try await Seeder.seed(file: seed, agent: service, logger: logger)
        }
        try await daemonGroup(services, logger: logger).run()
    }
}

/// Loads a seed file through the agent once it has synced, unless the tables already hold
/// entries (a restart must not overwrite live data).
enum Seeder {
    static func seed(file: String, agent: Agent, logger: Logger) async throws {
        let text: String
        do throws(PosixError) {
            text = String(decoding: try Streams.readFile(file), as: UTF8.self)
        } catch {
            throw CommandError.seedUnreadable(path: file, error)
        }
        let document: LoadFormat.Document
        do throws(LoadFormat.ParseError) { document = try LoadFormat.parse(text) } catch {
            throw CommandError.seedInvalid(path: file, error)
        }
        guard await agent.waitForSync(timeout: .seconds(10)) else { throw CommandError.seedNotSynced(path: file) }
        guard agent.replica.read({ $0.entryCount }) == 0 else {
            logger.info("seed skipped: the directory already holds entries")
            return
        }
        try await Task.detached {
            for table in agent.replica.read({ document.tablesToCreate(in: $0) }) {
                _ = try agent.createTable(table)
            }
            var batcher = LoadBatcher(size: 5000)
            for item in document.items {
                if let full = batcher.add(item) { _ = try agent.batch(full.writes) }
            }
            if let last = batcher.finish() { _ = try agent.batch(last.writes) }
        }.value
        logger.info("seeded", metadata: ["entries": "\(document.items.count)", "file": "\(file)"])
    }
}
