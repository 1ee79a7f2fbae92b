import DSDClient
import DSDCore
import DSDWire
import Foundation

/// A directory and its agents as real `dsd` processes on loopback, each agent with its own
/// socket. Every process is SIGKILLed when the cluster is released (or on `stopAll()`).
public final class Cluster {
    public let dir: TempDirectory
    public let dsd: String
    public let port: Int
    public let keyFile: String
    public let dataDirectory: String
    public private(set) var server: ChildProcess?
    public private(set) var agents: [String: ChildProcess] = [:]
    /// Every process started, in order, for logs and cleanup.
    public private(set) var started: [ChildProcess] = []

    public init() throws {
        dir = try TempDirectory()
        dsd = try DSDBinary.path()
        port = try freeLoopbackPort()
        keyFile = dir.file("cluster.key")
        dataDirectory = dir.file("data")
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try Self.keygen(into: keyFile, in: dir)
    }

    deinit { stopAll() }

    /// `dsd keygen` into `path`, mode 0600 (dsd refuses a key others may read).
    public static func keygen(into path: String, in dir: TempDirectory) throws {
        let outcome = try runDSD(["keygen"], in: dir)
        guard outcome.status == 0, outcome.stdout.count >= 32 else { throw HarnessError("keygen: \(outcome)") }
        try writePrivateFile(path, contents: outcome.stdout)
    }

    public func clusterKey() throws -> ClusterKey {
        try ClusterKey(fileContents: Array(try Data(contentsOf: URL(fileURLWithPath: keyFile))))
    }

    public func stopAll() {
        // Mounting agents first get SIGTERM so they unmount cleanly; whatever is left is
        // detached, so a failing test never leaves a dead mount behind.
        for (host, child) in agents where mounts.contains(host) {
            child.signal(SIGTERM)
            _ = child.waitForExit(within: .seconds(3))
        }
        for child in started.reversed() { child.kill() }
        for host in mounts { Self.detach(mountpoint(host)) }
    }

    /// Hosts whose agent was started with a mount.
    public private(set) var mounts: Set<String> = []

    /// Where `host`'s agent mounts its replica.
    public func mountpoint(_ host: String) -> String { dir.file("mnt-\(host)") }

    /// Lazily unmounts `path` if anything is (still) mounted there.
    public static func detach(_ path: String) {
        let mounted =
            (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8))?
            .split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first.map(String.init) == path }
            ?? false
        guard mounted else { return }
        for arguments in [["-u", path], ["-u", "-z", path]] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/fusermount3")
            process.arguments = arguments
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { continue }
            process.waitUntilExit()
            if process.terminationStatus == 0 { return }
        }
    }

    // MARK: Processes

    /// Starts the directory and waits until it accepts connections.
    @discardableResult
    public func startServer(logLevel: String = "info") throws -> ChildProcess {
        let child = try ChildProcess(
            name: "server", executable: dsd,
            arguments: [
                "server", "--listen", "127.0.0.1:\(port)", "--data", dataDirectory, "--cluster-key", keyFile,
                "--log-level", logLevel,
            ],
            logDirectory: dir.path)
        started.append(child)
        server = child
        let up = eventually(within: .seconds(10), every: .milliseconds(10)) {
            child.stderr.contains("listening") || !child.isRunning
        }
        guard up != nil, child.isRunning else { throw HarnessError("server did not start: \(child.stderr)") }
        return child
    }

    public func socket(_ host: String) -> String { dir.file("\(host).sock") }
    public func cache(_ host: String) -> String { dir.file("\(host).cache") }

    /// Starts an agent for `host` and waits until its socket answers. `server` replaces the
    /// directory's address (e.g. a relay's).
    @discardableResult
    public func startAgent(
        _ host: String, withCache: Bool = false, keyFile: String? = nil, mount: Bool = false,
        server: String? = nil, extraArguments: [String] = []
    ) throws -> ChildProcess {
        try? FileManager.default.removeItem(atPath: socket(host))
        var arguments = [
            "agent", "--server", server ?? "127.0.0.1:\(port)", "--host", host, "--cluster-key",
            keyFile ?? self.keyFile,
            "--socket", socket(host),
        ]
        if withCache { arguments += ["--cache", cache(host)] }
        if mount {
            try FileManager.default.createDirectory(atPath: mountpoint(host), withIntermediateDirectories: true)
            arguments += ["--mount", mountpoint(host)]
            mounts.insert(host)
        }
        arguments += extraArguments
        let child = try ChildProcess(
            name: "agent-\(host)", executable: dsd, arguments: arguments, logDirectory: dir.path)
        started.append(child)
        agents[host] = child
        let up = eventually(within: .seconds(10), every: .milliseconds(10)) {
            !child.isRunning || (try? AgentClient(socketPath: socket(host), timeout: .seconds(2))) != nil
        }
        guard up != nil, child.isRunning else { throw HarnessError("agent \(host) did not start: \(child.stderr)") }
        return child
    }

    // MARK: Clients

    public func client(_ host: String, timeout: Duration = .seconds(5)) throws -> AgentClient {
        try AgentClient(socketPath: socket(host), timeout: timeout)
    }

    /// Runs a client command against `host`'s agent: `dsd <arguments> --socket <socket>`.
    public func command(_ host: String, _ arguments: [String], timeout: Duration = .seconds(15)) throws
        -> CommandOutcome
    {
        try runDSD(arguments + ["--socket", socket(host)], in: dir, timeout: timeout)
    }

    /// The agent's `status` fields, or an empty dictionary if it does not answer.
    public func status(_ host: String) -> [String: String] {
        guard let client = try? client(host, timeout: .seconds(2)), let fields = try? client.status() else {
            return [:]
        }
        return Dictionary(fields, uniquingKeysWith: { _, last in last })
    }

    /// Waits until every listed agent says `state: connected`; returns how long it took.
    public func waitConnected(_ hosts: [String], within limit: Duration = .seconds(10)) -> Duration? {
        eventually(within: limit, every: .milliseconds(20)) {
            hosts.allSatisfy { status($0)["state"] == "connected" }
        }
    }

    /// The entry `key` of `table` on `host`'s replica, nil if absent or unreachable.
    public func entry(_ host: String, _ table: String, _ key: String) -> Entry? {
        try? client(host, timeout: .seconds(2)).get(table: table, key: key)
    }

    /// Waits until `host`'s replica holds `version` or later (compared as numbers).
    public func waitVersion(_ host: String, atLeast version: Version, within limit: Duration) -> Duration? {
        eventually(within: limit, every: .milliseconds(20)) {
            guard let text = status(host)["version"], let seen = Version(text: text) else { return false }
            return seen >= version
        }
    }

    /// Tail of every process log, for failure messages.
    public func logs(lines: Int = 20) -> String {
        started.map { child in
            let tail = child.stderr.split(separator: "\n").suffix(lines).joined(separator: "\n")
            return "--- \(child.name) (pid \(child.pid))\n\(tail)"
        }.joined(separator: "\n")
    }
}

/// The tests' table: a standard table, so it exists from the start and cannot be dropped.
public let testTable = StandardTable.gateway.name
