import Foundation

/// A cluster of real `etcd` processes on loopback ports, each with its data directory in one
/// temporary directory. Every member is SIGKILLed when the cluster is released, so a failing
/// test leaves nothing running. etcd must be installed (`apt-get install etcd-server`): its
/// absence is a failure, not a skip.
public final class EtcdCluster {
    public struct Member {
        public let name: String
        public let clientPort: Int
        public let peerPort: Int
        public let dataDirectory: String
        public var clientURL: String { "http://127.0.0.1:\(clientPort)" }
        public var peerURL: String { "http://127.0.0.1:\(peerPort)" }
    }

    public let dir: TempDirectory
    public private(set) var members: [Member] = []
    private let etcd: String
    private var token = ""
    private var processes: [ChildProcess?]

    /// How long a member may take to report "ready to serve client requests" (it does so once
    /// it has joined a cluster with a leader).
    public static let readyTimeout: Duration = .seconds(20)

    /// Data directories go to tmpfs when there is one: etcd fsyncs its log on every commit,
    /// and a build writing to the same disk can stall those syncs for seconds (seen here as
    /// members that did not answer within 3 s).
    static var dataPrefix: String {
        var isDirectory: ObjCBool = false
        let shm = FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDirectory) && isDirectory.boolValue
        return shm ? "/dev/shm/dsd-etcd-" : "/tmp/dsd-etcd-"
    }

    /// Starts `size` members and waits until every one serves clients.
    public init(size: Int = 3) throws {
        guard let etcd = ["/usr/bin/etcd", "/usr/local/bin/etcd"].first(where: FileManager.default.isExecutableFile)
        else {
            throw HarnessError(
                "etcd is not installed (looked for /usr/bin/etcd and /usr/local/bin/etcd): the etcd tests run real "
                    + "etcd processes; install it with `apt-get install etcd-server` (.ci/run does)")
        }
        self.etcd = etcd
        dir = try TempDirectory(prefix: Self.dataPrefix)
        processes = Array(repeating: nil, count: size)
        // A port found free may be taken before etcd binds it (another test's outgoing
        // connection gets it as its ephemeral port): then the whole cluster starts again on
        // new ports.
        for attempt in 1...3 {
            token = "dsd-test-\(UInt32.random(in: 0...UInt32.max))"
            members = try (0..<size).map { index in
                Member(
                    name: "m\(index)", clientPort: try freeLoopbackPort(), peerPort: try freeLoopbackPort(),
                    dataDirectory: dir.file("attempt\(attempt)-m\(index)"))
            }
            for index in 0..<size { try launch(index) }
            do {
                for index in 0..<size { try waitUntilReady(index) }
                return
            } catch {
                let portTaken = processes.contains { $0?.stderr.contains("address already in use") ?? false }
                stopAll()
                guard portTaken, attempt < 3 else { throw error }
            }
        }
    }

    deinit { stopAll() }

    public var clientURLs: [String] { members.map(\.clientURL) }

    public func process(_ index: Int) -> ChildProcess? { processes[index] }

    /// SIGKILLs member `index` and waits until it is gone.
    public func kill(_ index: Int) {
        processes[index]?.kill()
        processes[index] = nil
    }

    /// Starts member `index` again on its data directory and ports, and waits until it serves.
    public func restart(_ index: Int) throws {
        kill(index)
        try launch(index)
        try waitUntilReady(index)
    }

    public func stopAll() {
        for index in processes.indices { kill(index) }
    }

    private func launch(_ index: Int) throws {
        let member = members[index]
        let initialCluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        processes[index] = try ChildProcess(
            name: member.name, executable: etcd,
            arguments: [
                "--name", member.name, "--data-dir", member.dataDirectory,
                "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
                "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
                "--initial-cluster", initialCluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", token, "--max-txn-ops", "1000",
            ], logDirectory: dir.path)
    }

    private func waitUntilReady(_ index: Int) throws {
        guard let process = processes[index] else { throw HarnessError("etcd member \(index) is not running") }
        let ready = eventually(within: Self.readyTimeout, every: .milliseconds(20)) {
            !process.isRunning || process.stderr.contains("ready to serve client requests")
        }
        guard ready != nil, process.isRunning else {
            let log = process.stderr.split(separator: "\n").suffix(15).joined(separator: "\n")
            throw HarnessError("etcd member \(members[index].name) did not become ready; its log ends:\n\(log)")
        }
    }
}
