import ArgumentParser
import DSDLog
import DSDPosix
import DSDServer
import Logging
import NIOCore
import ServiceLifecycle

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the directory: durable tables, pushed to every agent.",
        discussion: """
            Example:
              (umask 077; dsd keygen > /etc/dsd/cluster.key)
              dsd server --listen 127.0.0.1:7400 --data /var/lib/dsd \\
                         --cluster-key /etc/dsd/cluster.key
            Every change is in the write-ahead log under --data before it is acknowledged.
            Entries heartbeated by an agent that disconnected stay valid --agent-timeout-ms
            (a reconnect within it changes nothing), then are marked invalid everywhere.
            SIGTERM or SIGINT shut down cleanly.
            """
    )

    @Option(name: .long, help: "Address to listen on, HOST:PORT.")
    var listen = "127.0.0.1:7400"
    @Option(name: .long, help: "Directory for the write-ahead log and snapshots.")
    var data: String
    @Option(name: .long, help: "File holding the cluster key (hex); see `dsd keygen`.")
    var clusterKey: String
    @Option(name: .long, help: "This directory's name, shown to peers.")
    var name = localHostName()
    @OptionGroup var liveness: LivenessOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws { _ = try parseAddress(listen, option: "--listen") }

    func run() async throws {
        let logger = logging.makeLogger("dsd.server")
        let (host, port) = try parseAddress(listen, option: "--listen")
        let key = try loadClusterKey(path: clusterKey, create: false)
        // The server creates --data and its missing parents before it locks and replays it.
        var settings = ServerSettings(host: host, port: port, dataDirectory: data, clusterKey: key, name: name)
        settings.routeProbing = liveness.routes
        settings.liveness = liveness.agents
        let server = DirectoryServer(settings: settings, logger: logger)
        _ = try await startServer(server, listen: listen, data: data)
        let group = ServiceGroup(
            services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// Opens the directory's log and binds its listener, naming the data directory or the address
/// when either fails.
func startServer(_ server: DirectoryServer, listen: String, data: String) async throws -> Int {
    do {
        return try await server.start()
    } catch let error as LogError {
        throw CommandError.dataDirectory(path: data, error)
    } catch let error as IOError {
        throw CommandError.cannotListen(address: listen, errno: error.errnoCode)
    }
}
