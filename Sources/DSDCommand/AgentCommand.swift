import ArgumentParser
import DSDAgent
import DSDClient
import DSDPosix
import Logging
import NIOCore
import ServiceLifecycle

/// Flags of an agent, shared by `dsd agent` and `dsd up`.
struct AgentOptions: ParsableArguments {
    @Option(name: .long, help: "Unix socket for local clients.")
    var socket = AgentClient.defaultSocketPath
    @Option(
        name: .long,
        help: "Replica cache file (kept so a restarted agent serves the last replica while the directory is away).")
    var cache: String?
    @Option(name: .long, help: "This host's name, e.g. HOST9 (default: the machine's host name).")
    var host: String?

    /// `--host`, or the machine's short host name.
    var hostName: String { host ?? localHostName() }
}

/// A list of directory addresses `HOST:PORT[,HOST:PORT…]` given with `option`.
func parseEndpoints(_ text: String, option: String) throws -> [AgentSettings.Endpoint] {
    let endpoints = try text.split(separator: ",").map { part in
        guard let endpoint = AgentSettings.Endpoint(parsing: part) else {
            throw ValidationError("\(option) expects HOST:PORT[,HOST:PORT…], got '\(part)'")
        }
        return endpoint
    }
    guard !endpoints.isEmpty else { throw ValidationError("\(option) needs at least one HOST:PORT") }
    return endpoints
}

/// Binds the agent's socket and starts it, naming the socket when it cannot be bound. Its
/// directory exists already: `Agent.init` created it to lock the socket.
func startAgent(_ agent: Agent) async throws {
    do {
        try await agent.start()
    } catch let error as IOError {
        throw CommandError.cannotListen(address: agent.settings.socketPath, errno: error.errnoCode)
    }
}

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run a host's agent: a full replica of the directory, served locally.",
        discussion: """
            Example:
              dsd agent --server 127.0.0.1:7400 --host HOST9 \\
                        --cluster-key /etc/dsd/cluster.key \\
                        --socket /run/dsd/agent.sock \\
                        --cache /var/lib/dsd/replica.cache --mount /dsd
              cat /dsd/find/MDS.1
            Reads are answered from the replica, also while the directory is unreachable
            (`dsd status` then says stale since when, and last_error why); writes fail at
            once in that case.
            With `--route ADDRESS` once per network link (route 0 first), the directory
            probes every link over UDP (`--probe-port`) and marks a dead one invalid in
            DSD_HOST_ROUTE, so `find` everywhere switches to the host's next valid route.
            """
    )

    @Option(name: .long, help: "Directory address(es), HOST:PORT[,HOST:PORT…], tried in order.")
    var server = "127.0.0.1:7400"
    @Option(name: .long, help: "File holding the cluster key (hex).")
    var clusterKey: String
    @OptionGroup var agent: AgentOptions
    @OptionGroup var mount: MountOptions
    @OptionGroup var routes: RouteOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws { _ = try endpoints() }

    /// The `--server` addresses.
    func endpoints() throws -> [AgentSettings.Endpoint] { try parseEndpoints(server, option: "--server") }

    func run() async throws {
        let logger = logging.makeLogger("dsd.agent")
        let endpoints = try endpoints()
        let key = try loadClusterKey(path: clusterKey, create: false)
        var settings = AgentSettings(
            servers: endpoints, hostName: agent.hostName, clusterKey: key, socketPath: agent.socket,
            cachePath: agent.cache, socketGroup: mount.writerGroup == 0 ? nil : mount.writerGroup)
        settings.routes = try routes.announcements()
        settings.probePort = routes.resolvedProbePort
        let service = try Agent(settings: settings, logger: logger)
        var services: [any Service] = [service]
        if let mountpoint = mount.mount {
            services.append(try MountService(agent: service, options: mount, mountpoint: mountpoint, logger: logger))
        }
        try await startAgent(service)
        try await daemonGroup(services, logger: logger).run()
    }
}
