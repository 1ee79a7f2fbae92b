import DSDClient
import DSDCore
import Foundation

/// Directories on etcd: a 3-member etcd cluster, `dsd server --etcd` processes on loopback
/// ports of their own, and agents (from the underlying `Cluster`) that take every server.
public final class RedundantCluster {
    public let etcd: EtcdCluster
    public let cluster: Cluster
    public let serverPorts: [Int]
    public let prefix: String
    public private(set) var servers: [ChildProcess?]
    /// Every server process started, killed ones included, for logs.
    public private(set) var serverLogs: [ChildProcess] = []
    public let leaseTTL: Int

    public init(servers count: Int = 2, leaseTTL: Int = 2, prefix: String = "/dsd-test/") throws {
        etcd = try EtcdCluster(size: 3)
        cluster = try Cluster()
        serverPorts = try (0..<count).map { _ in try freeLoopbackPort() }
        servers = Array(repeating: nil, count: count)
        self.prefix = prefix
        self.leaseTTL = leaseTTL
    }

    deinit { stopAll() }

    public func stopAll() {
        cluster.stopAll()
        for index in servers.indices { kill(index) }
        etcd.stopAll()
    }

    public var serverList: String { serverPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") }

    /// The list with server `first` first: the agent connects there and fails over to the rest.
    public func serverList(startingAt first: Int) -> String {
        let order = Array(serverPorts[first...]) + Array(serverPorts[..<first])
        return order.map { "127.0.0.1:\($0)" }.joined(separator: ",")
    }

    /// Starts server `index` (name `S<index>`) and waits until it listens.
    @discardableResult
    public func startServer(_ index: Int, logLevel: String = "info", extraArguments: [String] = []) throws
        -> ChildProcess
    {
        let child = try ChildProcess(
            name: "server-S\(index)", executable: cluster.dsd,
            arguments: [
                "server", "--listen", "127.0.0.1:\(serverPorts[index])", "--etcd",
                etcd.clientURLs.joined(separator: ","),
                "--etcd-prefix", prefix, "--etcd-lease-ttl", "\(leaseTTL)", "--cluster-key", cluster.keyFile,
                "--name", "S\(index)", "--log-level", logLevel,
            ] + extraArguments,
            logDirectory: cluster.dir.path)
        servers[index] = child
        serverLogs.append(child)
        let up = eventually(within: .seconds(15), every: .milliseconds(10)) {
            child.stderr.contains("listening") || !child.isRunning
        }
        guard up != nil, child.isRunning else { throw HarnessError("server S\(index) did not start: \(child.stderr)") }
        return child
    }

    public func kill(_ index: Int) {
        servers[index]?.kill()
        servers[index] = nil
    }

    /// The index of the server whose log last says it became master and has not said since
    /// that it stepped down; nil if none.
    public func master() -> Int? {
        servers.indices.first { index in
            guard let log = servers[index]?.stderr else { return false }
            guard let became = log.range(of: "became master", options: .backwards) else { return false }
            let after = log[became.upperBound...]
            return !after.contains("no longer master")
        }
    }

    /// Waits until exactly one live server says it is master.
    public func waitForMaster(within limit: Duration = .seconds(10)) -> Int? {
        var found: Int?
        _ = eventually(within: limit, every: .milliseconds(20)) {
            found = master()
            return found != nil
        }
        return found
    }

    public func logs(lines: Int = 25) -> String {
        let servers = serverLogs.map { child in
            let tail = child.stderr.split(separator: "\n").suffix(lines).joined(separator: "\n")
            return "--- \(child.name) (pid \(child.pid))\n\(tail)"
        }
        return servers.joined(separator: "\n") + "\n" + cluster.logs(lines: lines)
    }
}
