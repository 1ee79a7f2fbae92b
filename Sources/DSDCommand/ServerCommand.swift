import ArgumentParser
import DSDEtcd
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

            Redundant (any number of servers on one etcd cluster, all serving agents):
              dsd server --listen 10.0.0.1:7400 --cluster-key /etc/dsd/cluster.key \\
                         --etcd http://h1:2379,http://h2:2379,http://h3:2379
            Agents then take --server with every dsd server. Every change is committed in
            etcd before it is acknowledged; one server at a time is master and runs the
            promotion of backups.
            Entries heartbeated by an agent that disconnected stay valid --agent-timeout-ms
            (a reconnect within it changes nothing), then are marked invalid everywhere.
            SIGTERM or SIGINT shut down cleanly.
            """
    )

    @Option(name: .long, help: "Address to listen on, HOST:PORT.")
    var listen = "127.0.0.1:7400"
    @Option(name: .long, help: "Directory for the write-ahead log and snapshots (or --etcd).")
    var data: String?
    @Option(name: .long, help: "Keep the directory in etcd: the members' client URLs, comma-separated (or --data).")
    var etcd: String?
    @Option(name: .long, help: "Prefix of every etcd key of this directory.")
    var etcdPrefix = "/dsd/"
    @Option(name: .long, help: "TTL in seconds of this server's etcd lease (a dead master is replaced within it).")
    var etcdLeaseTtl: Int64 = 5
    @Option(
        name: .long,
        help: "With --etcd: file keeping this server's copy between runs, so a restart reads only what changed since.")
    var cache: String?
    @Option(name: .long, help: "File holding the cluster key (hex); see `dsd keygen`.")
    var clusterKey: String
    @Option(name: .long, help: "This directory's name, shown to peers.")
    var name = localHostName()
    @OptionGroup var liveness: LivenessOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        _ = try parseAddress(listen, option: "--listen")
        switch (data, etcd) {
        case (nil, nil):
            throw ValidationError(
                "say where the directory is kept: --data DIR (a write-ahead log on this host) or --etcd URLS")
        case (.some, .some):
            throw ValidationError("--data and --etcd exclude each other: the directory is kept in one of them")
        case (nil, .some(let urls)):
            guard EtcdEndpoint.list(urls) != nil else {
                throw ValidationError(
                    "--etcd \(urls): expected the etcd members' client URLs, e.g. http://h1:2379,http://h2:2379")
            }
            guard etcdPrefix.hasPrefix("/"), etcdPrefix.hasSuffix("/"), etcdPrefix.count >= 2 else {
                throw ValidationError("--etcd-prefix \(etcdPrefix): expected a path such as /dsd/ (a / at both ends)")
            }
            guard (2...3600).contains(etcdLeaseTtl) else {
                throw ValidationError(
                    "--etcd-lease-ttl \(etcdLeaseTtl): expected 2 to 3600 seconds (etcd's minimum is 2)")
            }
        case (.some, nil):
            if cache != nil { throw ValidationError("--cache goes with --etcd; with --data the log is the copy") }
        }
    }

    func run() async throws {
        let logger = logging.makeLogger("dsd.server")
        let (host, port) = try parseAddress(listen, option: "--listen")
        let key = try loadClusterKey(path: clusterKey, create: false)
        // The server creates --data and its missing parents before it locks and replays it.
        var settings = ServerSettings(host: host, port: port, dataDirectory: data ?? "", clusterKey: key, name: name)
        settings.routeProbing = liveness.routes
        settings.liveness = liveness.agents
        if let etcd, let endpoints = EtcdEndpoint.list(etcd) {
            settings.etcd = EtcdBackend(
                endpoints: endpoints, prefix: etcdPrefix, leaseTTL: etcdLeaseTtl, cachePath: cache)
        }
        let server = DirectoryServer(settings: settings, logger: logger)
        _ = try await startServer(server, listen: listen, data: data ?? "", etcd: etcd)
        let group = ServiceGroup(
            services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// Opens the directory's log and binds its listener, naming the data directory or the address
/// when either fails.
func startServer(_ server: DirectoryServer, listen: String, data: String, etcd: String? = nil) async throws -> Int {
    do {
        return try await server.start()
    } catch let error as EtcdError {
        throw CommandError.etcdUnusable(endpoints: etcd ?? "", error)
    } catch let error as EtcdStartError {
        throw CommandError.etcdDirectory(error)
    } catch let error as LogError {
        throw CommandError.dataDirectory(path: data, error)
    } catch let error as IOError {
        throw CommandError.cannotListen(address: listen, errno: error.errnoCode)
    }
}
