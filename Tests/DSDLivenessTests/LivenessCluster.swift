import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Synchronization
import Testing

/// A directory, agents and heartbeat loops as real processes on loopback, laid out for the
/// failover scenario of FIG. 4C:
///
/// - `DSD_HOST_ROUTE`: SRVA.0 → 127.0.0.11, SRVB.0 → 127.0.0.12 (table data only);
/// - `DSD_MTID_METADATA`: MDS.1 → SRVA:1872 (primary), MDS.1.0 → SRVA:1872, MDS.1.1 → SRVB:1872;
/// - agents SRVA and SRVB (the servers' hosts) and HOST1…HOST3 (observers).
///
/// Every process is SIGKILLed when the cluster is released.
final class LivenessCluster {
    static let table = StandardTable.metadata.name
    static let observers = ["HOST1", "HOST2", "HOST3"]
    static let primaryRoute = "127.0.0.11:1872"
    static let backupRoute = "127.0.0.12:1872"

    /// The processes, sockets and clients: the shared test cluster.
    let base: Cluster
    /// When the current server process was seen listening: its liveness grace started no
    /// later than this.
    private(set) var serverStarted = ContinuousClock.now
    /// Heartbeat loops, killed (with their children) before the cluster.
    private var loops: [ChildProcess] = []

    var dir: TempDirectory { base.dir }
    var dsd: String { base.dsd }
    var server: ChildProcess? { base.server }
    var agents: [String: ChildProcess] { base.agents }

    init() throws {
        base = try Cluster()
    }

    deinit { stopAll() }

    func stopAll() {
        for loop in loops.reversed() { killTree(loop) }
        base.stopAll()
    }

    /// Starts the directory, every agent and the tables above; waits until all agents hold them.
    static func scenario() throws -> LivenessCluster {
        let cluster = try LivenessCluster()
        try cluster.startServer()
        for host in ["SRVA", "SRVB"] + observers { try cluster.startAgent(host) }
        let writer = try cluster.client("SRVA")
        let route = StandardTable.hostRoute.name
        try writer.put(table: route, entry: Entry(key: "SRVA.0", value: "127.0.0.11"))
        try writer.put(table: route, entry: Entry(key: "SRVB.0", value: "127.0.0.12"))
        try writer.put(table: table, entry: Entry(key: "MDS.1.0", value: "SRVA:1872"))
        try writer.put(table: table, entry: Entry(key: "MDS.1.1", value: "SRVB:1872"))
        try writer.put(table: table, entry: Entry(key: "MDS.1", value: "SRVA:1872"))
        let synced = eventually(within: .seconds(10), every: .milliseconds(20)) {
            (["SRVB"] + observers).allSatisfy { cluster.entry($0, "MDS.1")?.value == "SRVA:1872" }
        }
        guard synced != nil else { throw HarnessError("agents did not sync the tables:\n\(cluster.logs())") }
        return cluster
    }

    // MARK: Processes

    /// Starts `dsd server` on the cluster's port and data directory; waits until it listens.
    @discardableResult
    func startServer() throws -> ChildProcess {
        let child = try base.startServer()
        serverStarted = ContinuousClock.now
        return child
    }

    func socket(_ host: String) -> String { base.socket(host) }

    /// Starts `dsd agent` for `host`; waits until it is connected to the directory.
    @discardableResult
    func startAgent(_ host: String) throws -> ChildProcess {
        let child = try base.startAgent(host)
        guard waitConnected([host]) != nil, child.isRunning else {
            throw HarnessError("agent \(host) did not connect: \(child.stderr)")
        }
        return child
    }

    /// A server's heartbeat: `while true; do dsd heartbeat …; sleep 0.1; done` against `host`'s agent.
    func startHeartbeatLoop(host: String, key: String, timeMaxMillis: Int) throws -> ChildProcess {
        let script =
            "while true; do '\(dsd)' heartbeat \(Self.table) \(key) --time-max-ms \(timeMaxMillis) --socket '\(socket(host))'; sleep 0.1; done"
        let child = try ChildProcess(
            name: "heartbeat-\(key)", executable: "/bin/sh", arguments: ["-c", script], logDirectory: dir.path)
        loops.append(child)
        return child
    }

    /// SIGKILLs `child` and every process it started (a shell loop's current `dsd heartbeat`),
    /// children first so none outlives its parent's kill by completing one more touch.
    /// Returns the instant right after the signals were sent (reaping takes longer).
    @discardableResult
    func killTree(_ child: ChildProcess) -> ContinuousClock.Instant {
        guard child.isRunning else { return ContinuousClock.now }
        _ = kill(child.pid, SIGSTOP)
        for pid in Self.children(of: child.pid) { _ = kill(pid, SIGKILL) }
        _ = kill(child.pid, SIGKILL)
        let killed = ContinuousClock.now
        child.kill()
        return killed
    }

    private static func children(of parent: Int32) -> [Int32] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { name -> Int32? in
            guard let pid = Int32(name),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // Fields after the command name: state, ppid, …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent ? pid : nil
        }
    }

    // MARK: Clients

    func client(_ host: String, timeout: Duration = .seconds(5)) throws -> AgentClient {
        try base.client(host, timeout: timeout)
    }

    func entry(_ host: String, _ key: String) -> Entry? { base.entry(host, Self.table, key) }

    func status(_ host: String) -> [String: String] { base.status(host) }

    func waitConnected(_ hosts: [String], within limit: Duration = .seconds(10)) -> Duration? {
        base.waitConnected(hosts, within: limit)
    }

    /// `dsd find NAME --socket <host's socket>`.
    func find(_ host: String, _ name: String) throws -> CommandOutcome {
        try runDSD(["find", name, "--socket", socket(host)], in: dir)
    }

    /// Polls `key` on every observer over persistent connections until each saw it invalid;
    /// returns the delay from `since` per observer, nil where it stayed valid past `limit`.
    func invalidDelays(_ key: String, since: ContinuousClock.Instant, within limit: Duration) throws
        -> [String: Duration?]
    {
        let clients = try Self.observers.map { ($0, try client($0)) }
        var seen: [String: Duration?] = [:]
        while seen.count < clients.count, ContinuousClock.now - since < limit {
            for (host, client) in clients where seen[host] == nil {
                if let entry = try? client.get(table: Self.table, key: key), !entry.valid {
                    seen[host] = ContinuousClock.now - since
                }
            }
            usleep(1_000)
        }
        for (host, _) in clients where seen[host] == nil { seen[host] = .some(nil) }
        return seen
    }

    /// Tail of every process log, for failure messages.
    func logs(lines: Int = 15) -> String { base.logs(lines: lines) }
}

/// Watches entries on one agent from a background thread and remembers every moment one of
/// them was seen invalid.
final class ValidityMonitor: Sendable {
    private let state = Mutex<(stop: Bool, invalid: [String], polls: Int)>((false, [], 0))
    private let done = DispatchSemaphore(value: 0)

    init(socket: String, table: String, keys: [String]) {
        Thread.detachNewThread { [self] in
            var client: AgentClient?
            while !state.withLock({ $0.stop }) {
                if client == nil { client = try? AgentClient(socketPath: socket, timeout: .seconds(1)) }
                for key in keys {
                    guard let current = client else { break }
                    do {
                        let entry = try current.get(table: table, key: key)
                        if !entry.valid { state.withLock { $0.invalid.append("\(key) at \(ContinuousClock.now)") } }
                    } catch {
                        client = nil
                    }
                }
                state.withLock { $0.polls += 1 }
                usleep(10_000)
            }
            done.signal()
        }
    }

    /// Stops polling; returns the invalid sightings and how many rounds were polled.
    func stop() -> (invalid: [String], polls: Int) {
        state.withLock { $0.stop = true }
        done.wait()
        return state.withLock { ($0.invalid, $0.polls) }
    }
}

/// Every liveness test starts real processes and measures timing: one at a time.
@Suite(.serialized) struct Liveness {}
