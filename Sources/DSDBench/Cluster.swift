import DSDAgent
import DSDClient
import DSDCore
import DSDWire
import Foundation
import Logging

/// A real `dsd server` process on loopback plus the agents a benchmark attaches to it:
/// `dsd agent` processes, in-process `Agent`s and lightweight protocol peers.
final class Cluster {
    let dsd: String
    let scratch: Scratch
    let children: ChildProcesses
    let key: ClusterKey
    let keyPath: String
    private(set) var port = 0
    private(set) var server: ChildProcess?
    private(set) var agentProcesses: [(process: ChildProcess, socket: String)] = []
    private var agents: [Agent] = []
    /// The directory's log on tmpfs (fdatasync is free) instead of the scratch disk.
    private let logOnTmpfs: Bool
    private var tmpfsData: Scratch?

    init(dsd: String, scratch: Scratch, children: ChildProcesses, name: String, logOnTmpfs: Bool = false) throws {
        self.dsd = dsd
        self.logOnTmpfs = logOnTmpfs
        self.scratch = try Scratch(inside: scratch, name: name)
        self.children = children
        key = ClusterKey.generate()
        keyPath = self.scratch.file("cluster.key")
        guard
            FileManager.default.createFile(
                atPath: keyPath, contents: Data((key.fileContents + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw BenchError("cannot write \(keyPath)")
        }
    }

    /// Starts `dsd server` and waits until it listens.
    func startServer() throws {
        let data: String
        if logOnTmpfs {
            let tmpfs = try Scratch(parent: "/dev/shm")
            tmpfsData = tmpfs
            data = tmpfs.path
        } else {
            data = try scratch.directory("data")
        }
        var lastError: (any Error)?
        for _ in 0..<3 {
            port = try freeLoopbackPort()
            let child = try children.spawn(
                name: "dsd server", executable: dsd,
                arguments: [
                    "server", "--listen", "127.0.0.1:\(port)", "--data", data, "--cluster-key", keyPath,
                    "--name", "bench-directory", "--log-level", "warning",
                ],
                logPath: scratch.file("server.log"))
            do {
                try waitForListener(port: port, timeout: .seconds(10), child: child)
                server = child
                return
            } catch {
                lastError = error
                children.stop(child)
            }
        }
        throw lastError ?? BenchError("server did not start")
    }

    /// Starts a `dsd agent` process; `waitConnected` blocks until its status says connected.
    @discardableResult
    func startAgentProcess(host: String) throws -> ChildProcess {
        let socket = scratch.file("\(host).sock")
        let child = try children.spawn(
            name: "dsd agent \(host)", executable: dsd,
            arguments: [
                "agent", "--server", "127.0.0.1:\(port)", "--host", host, "--cluster-key", keyPath,
                "--socket", socket, "--log-level", "warning",
            ],
            logPath: scratch.file("\(host).log"))
        agentProcesses.append((child, socket))
        return child
    }

    /// Waits until every agent process is connected and holds at least `version`.
    func waitForAgentProcesses(atLeast version: Version? = nil, timeout: Duration = .seconds(20)) throws {
        for (child, socket) in agentProcesses {
            let deadline = ContinuousClock.now + timeout
            while true {
                guard child.isRunning else { throw BenchError("\(child.name) exited:\n\(child.logTail())") }
                if let status = try? AgentClient(socketPath: socket, timeout: .seconds(2)).status() {
                    let fields = Dictionary(status, uniquingKeysWith: { $1 })
                    if fields["state"] == "connected", versionReached(fields["version"], version) { break }
                }
                guard ContinuousClock.now < deadline else {
                    throw BenchError("\(child.name) not synced within \(timeout):\n\(child.logTail())")
                }
                usleep(20_000)
            }
        }
    }

    /// An in-process agent connected to the server (or to `servers`, in order) and synced.
    func startAgent(host: String, servers: [AgentSettings.Endpoint]? = nil) throws -> Agent {
        let settings = AgentSettings(
            servers: servers ?? [.init(host: "127.0.0.1", port: port)], hostName: host, clusterKey: key,
            socketPath: scratch.file("\(host).sock"))
        var logger = Logger(label: "dsd-bench.agent.\(host)")
        logger.logLevel = .error
        let agent = try Agent(settings: settings, logger: logger)
        agents.append(agent)
        try blocking { try await agent.start() }
        guard try blocking({ await agent.waitForSync(timeout: .seconds(10)) }) else {
            throw BenchError("in-process agent \(host) did not sync within 10 s")
        }
        return agent
    }

    /// Stops everything this cluster started and removes its files.
    func stop() {
        for agent in agents { _ = try? blocking { try await agent.shutdown() } }
        agents = []
        for (child, _) in agentProcesses { children.stop(child) }
        agentProcesses = []
        if let server { children.stop(server) }
        server = nil
        tmpfsData?.remove()
        tmpfsData = nil
        scratch.remove()
    }
}

private func versionReached(_ text: String?, _ target: Version?) -> Bool {
    guard let target else { return true }
    guard let text, let version = Version(text: text) else { return false }
    return version >= target
}

extension Scratch {
    /// A subdirectory of another scratch directory.
    convenience init(inside parent: Scratch, name: String) throws {
        try self.init(path: parent.directory(name))
    }
}
