import ArgumentParser
import DSDAgent
import DSDServer
import Logging
import NIOCore
import ServiceLifecycle

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a node: an agent of the directory above, a directory for the agents below.",
        discussion: """
            Example (one directory, a node per rack, agents on the node of their rack):
              dsd node --upstream 10.0.0.1:7400 --listen 10.0.1.1:7400 \\
                       --cluster-key /etc/dsd/cluster.key --host RACK1
              dsd agent --server 10.0.1.1:7400,10.0.0.1:7400 --host HOST9 \\
                        --cluster-key /etc/dsd/cluster.key
            The node keeps a full replica and serves snapshots, deltas and pushes to the
            agents (and nodes) below; their writes go up and are answered once they came
            back down committed. Versions are the directory's, so an agent moves between
            nodes, or to the directory, and resumes with a delta.
            The node probes the routes of the agents attached to it (--route on each
            agent) and commits their validity upward.
            """
    )

    @Option(name: .long, help: "Directory or node address(es) above, HOST:PORT[,HOST:PORT…], tried in order.")
    var upstream: String
    @Option(name: .long, help: "Address to listen on for the agents and nodes below, HOST:PORT.")
    var listen = "127.0.0.1:7401"
    @Option(name: .long, help: "File holding the cluster key (hex).")
    var clusterKey: String
    @Option(name: .long, help: "Unix socket for local clients of this host.")
    var socket = "/run/dsd/node.sock"
    @Option(name: .long, help: "This node's host name, e.g. RACK1 (default: the machine's host name).")
    var host: String?
    @OptionGroup var liveness: LivenessOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        _ = try parseAddress(listen, option: "--listen")
        _ = try endpoints()
    }

    func endpoints() throws -> [AgentSettings.Endpoint] { try parseEndpoints(upstream, option: "--upstream") }

    func run() async throws {
        let logger = logging.makeLogger("dsd.node")
        let (listenHost, port) = try parseAddress(listen, option: "--listen")
        let key = try loadClusterKey(path: clusterKey, create: false)
        let name = host ?? localHostName()
        var server = ServerSettings(host: listenHost, port: port, dataDirectory: "", clusterKey: key, name: name)
        server.routeProbing = liveness.routes
        let agent = AgentSettings(servers: try endpoints(), hostName: name, clusterKey: key, socketPath: socket)
        let node = try DirectoryNode(settings: NodeSettings(server: server, agent: agent), logger: logger)
        do {
            try await node.start()
        } catch let error as IOError {
            throw CommandError.cannotListen(address: listen, errno: error.errnoCode)
        }
        try await daemonGroup([node], logger: logger).run()
    }
}
