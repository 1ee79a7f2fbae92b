import DSDTestSupport
import Foundation

/// A directory and three agents, each in its own network namespace of a `TestNetwork`, as
/// real `dsd` processes. Agents stay in this process's mount namespace (only the network
/// namespace is joined, with `nsenter --net`), each with its own `/dsd` mount and socket.
/// `tearDown()` stops everything, unmounts and deletes the namespaces; it also runs on
/// release, and leftovers of an interrupted run are removed before starting.
final class RouteCluster {
    static let serverPort = 7400
    static let probePort = 7401

    let scratch: TempDirectory
    let network: TestNetwork
    let dsd: String
    let nsenter: String
    let fusermount: String
    let keyFile: String
    let interval: Duration
    let misses: Int
    private(set) var server: ChildProcess?
    private(set) var agents: [Int: ChildProcess] = [:]
    private var tornDown = false

    init(hosts: Int, interval: Duration, misses: Int) throws {
        scratch = try TempDirectory(prefix: routeTestPrefix)
        network = try TestNetwork(hosts: hosts)
        dsd = try DSDBinary.path()
        nsenter = try SystemTool.path("nsenter")
        fusermount = try SystemTool.path("fusermount3")
        keyFile = scratch.file("cluster.key")
        self.interval = interval
        self.misses = misses
        Self.unmountLeftovers(fusermount: fusermount, scratch: scratch)
        network.removeAll(in: scratch)
        do {
            try network.create(in: scratch)
            let key = try run(dsd, ["keygen"], in: scratch)
            guard key.status == 0 else { throw HarnessError("keygen: \(key)") }
            try writePrivateFile(keyFile, contents: key.stdout)
        } catch {
            tearDown()
            throw error
        }
    }

    deinit { tearDown() }

    func mountpoint(_ host: Int) -> String { scratch.file("mnt-h\(host)") }
    func socket(_ host: Int) -> String { scratch.file("h\(host).sock") }

    /// Starts the directory in `dsdt-dir`, listening on every address of that namespace.
    func startServer() throws {
        let data = scratch.file("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let child = try ChildProcess(
            name: "server", executable: nsenter,
            arguments: [
                "--net=" + TestNetwork.namespacePath(TestNetwork.directoryNamespace), dsd, "server",
                "--listen", "0.0.0.0:\(Self.serverPort)", "--data", data, "--cluster-key", keyFile, "--name", "dir",
                "--probe-interval-ms", "\(Int(milliseconds(interval)))", "--probe-misses", "\(misses)",
            ],
            logDirectory: scratch.path)
        server = child
        let up = eventually(within: .seconds(10), every: .milliseconds(10)) {
            child.stderr.contains("listening") || !child.isRunning
        }
        guard up != nil, child.isRunning else { throw HarnessError("server did not start: \(child.stderr)") }
    }

    /// Starts the agent of host `host` (named `HOST<host>`) in its namespace, with both links
    /// as routes 0 and 1 and its replica mounted at `mountpoint(host)`.
    func startAgent(_ host: Int) throws {
        let mount = mountpoint(host)
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let servers = (0..<2).map { "\(TestNetwork.directoryAddress(host, link: $0)):\(Self.serverPort)" }
        let child = try ChildProcess(
            name: "agent-h\(host)", executable: nsenter,
            arguments: [
                "--net=" + TestNetwork.namespacePath(TestNetwork.hostNamespace(host)), dsd, "agent",
                "--server", servers.joined(separator: ","), "--host", "HOST\(host)", "--cluster-key", keyFile,
                "--socket", socket(host), "--mount", mount,
                "--route", TestNetwork.hostAddress(host, link: 0), "--route", TestNetwork.hostAddress(host, link: 1),
                "--probe-port", "\(Self.probePort)",
            ],
            logDirectory: scratch.path)
        agents[host] = child
        let mounted = eventually(within: .seconds(10), every: .milliseconds(10)) {
            FileManager.default.fileExists(atPath: mount + "/tables") || !child.isRunning
        }
        guard mounted != nil, child.isRunning else {
            throw HarnessError("agent of HOST\(host) did not mount: \(child.stderr)")
        }
    }

    /// `dsd put` through host `host`'s agent, retried while the agent is still connecting.
    func put(via host: Int, _ table: String, _ key: String, _ value: String) throws {
        var last: CommandOutcome?
        let done = eventually(within: .seconds(10), every: .milliseconds(50)) {
            last = try? run(dsd, ["put", "--socket", socket(host), table, key, value], in: scratch)
            return last?.status == 0
        }
        guard done != nil else { throw HarnessError("put \(table) \(key) \(value): \(last.map { "\($0)" } ?? "?")") }
    }

    /// An entry file of host `host`'s mount, trimmed: `<value> <valid>`.
    func entry(on host: Int, _ table: String, _ key: String) -> String? {
        readFile("\(mountpoint(host))/tables/\(table)/\(key)")?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `cat <mount>/find/<instance>`, trimmed.
    func find(on host: Int, _ instance: String) -> String? {
        readFile("\(mountpoint(host))/find/\(instance)")?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What HOST2 holds for every route, and what every host finds for MDS.1.
    func view() -> String {
        var lines: [String] = []
        for host in 1...network.hosts {
            let routes = (0..<2).map { entry(on: 2, "DSD_HOST_ROUTE", "HOST\(host).\($0)") ?? "-" }
            lines.append("HOST\(host): find MDS.1 = \(find(on: host, "MDS.1") ?? "-"), routes \(routes)")
        }
        return lines.joined(separator: "; ")
    }

    /// The logs of every process, for a failure message.
    var logs: String {
        ([server].compactMap { $0 } + agents.keys.sorted().compactMap { agents[$0] })
            .map { "--- \($0.name)\n\($0.stderr.suffix(4000))" }.joined(separator: "\n")
    }

    func tearDown() {
        guard !tornDown else { return }
        tornDown = true
        for host in agents.keys.sorted() { agents[host]?.stop() }
        for host in agents.keys.sorted() {
            _ = try? run(fusermount, ["-u", mountpoint(host)], in: scratch)
            _ = try? run(fusermount, ["-u", "-z", mountpoint(host)], in: scratch)
        }
        server?.stop()
        network.removeAll(in: scratch)
    }

    /// Lazily unmounts any mount left under our scratch prefix by an interrupted run.
    static func unmountLeftovers(fusermount: String, scratch: TempDirectory) {
        guard let mounts = readFile("/proc/self/mounts") else { return }
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 1, fields[1].hasPrefix(routeTestPrefix) else { continue }
            _ = try? run(fusermount, ["-u", "-z", String(fields[1])], in: scratch)
        }
    }
}

/// Scratch directories of the route tests; leftover mounts under it are cleared at start.
let routeTestPrefix = "/tmp/dsd-rt-"
