import DSDAgent
import DSDCore
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Counts the peers that received the change being measured, and when the last one did.
final class FanoutTracker: Sendable {
    private struct State {
        var target = Version.zero
        var reached = 0
        var lastAt: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Starts waiting for `version` (peers report versions at or past it).
    func expect(_ version: Version) {
        state.withLock { $0 = State(target: version) }
    }

    func received(_ version: Version) {
        let now = monotonicNanoseconds()
        state.withLock { state in
            guard state.target != .zero, version == state.target else { return }
            state.reached += 1
            state.lastAt = max(state.lastAt, now)
        }
    }

    var progress: (reached: Int, lastAt: UInt64) { state.withLock { ($0.reached, $0.lastAt) } }
}

/// Fan-out (FIG. 7): the time from a put's commit to the *last* of N agents holding the
/// change, with every agent on the directory, then with agents spread over `dsd node`s.
///
/// The directory is a real `dsd server` (log on tmpfs), the nodes real `dsd node` processes;
/// the N agents are lightweight protocol peers in this process (`RawPeer`: handshake, sync,
/// decode every change), so one machine holds thousands. Puts go one at a time through an
/// in-process agent on the directory: timed from just before the put until the last peer
/// decoded the change. On 2 cores the peers' own decoding is part of every figure.
struct FanoutBench {
    struct Shape {
        var agents: Int
        var nodes: Int
        var description: String { nodes == 0 ? "\(agents) flat" : "\(agents) through \(nodes) nodes" }
        /// p99 target from the issue.
        var target: UInt64
    }

    struct Result {
        var shape: Shape
        var toLast: LatencySummary
        var directoryMicrosecondsPerChange: Double?
        var bytesPerChangePerAgent: Double
    }

    let dsd: String
    let scratch: Scratch
    let children: ChildProcesses
    let changes: Int

    static let shapes = [
        Shape(agents: 100, nodes: 0, target: 20_000_000),
        Shape(agents: 1_000, nodes: 0, target: 20_000_000),
        Shape(agents: 1_000, nodes: 10, target: 50_000_000),
        Shape(agents: 10_000, nodes: 10, target: 50_000_000),
    ]

    func run() throws -> [Result] {
        try Self.shapes.map(measure)
    }

    private func measure(_ shape: Shape) throws -> Result {
        let cluster = try Cluster(
            dsd: dsd, scratch: scratch, children: children, name: "fanout-\(shape.agents)-\(shape.nodes)",
            logOnTmpfs: true)
        defer { cluster.stop() }
        try cluster.startServer()
        var nodePorts: [Int] = []
        var nodes: [ChildProcess] = []
        defer { for node in nodes { children.stop(node) } }
        for index in 0..<shape.nodes {
            let port = try freeLoopbackPort()
            let node = try children.spawn(
                name: "dsd node N\(index)", executable: dsd,
                arguments: [
                    "node", "--upstream", "127.0.0.1:\(cluster.port)", "--listen", "127.0.0.1:\(port)",
                    "--cluster-key", cluster.keyPath, "--socket", cluster.scratch.file("N\(index).sock"),
                    "--host", "N\(index)", "--log-level", "warning",
                ],
                logPath: cluster.scratch.file("N\(index).log"))
            try waitForListener(port: port, timeout: .seconds(15), child: node)
            nodes.append(node)
            nodePorts.append(port)
        }
        let writer = try cluster.startAgent(host: "WRITER")
        let tracker = FanoutTracker()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        var peers: [RawPeer] = []
        defer { for peer in peers { try? blocking { await peer.close() } } }
        for index in 0..<shape.agents {
            let peer = RawPeer(name: "F\(index)", tracker: tracker)
            peers.append(peer)
            let port = nodePorts.isEmpty ? cluster.port : nodePorts[index % nodePorts.count]
            let key = cluster.key
            try blocking { try await peer.connect(port: port, key: key, group: group, pingInterval: .seconds(2)) }
        }
        try waitUntil(timeout: .seconds(120), what: "\(shape.agents) peers to sync") {
            peers.allSatisfy { $0.current.synced }
        }
        let bytesBefore = peers.reduce(0) { $0 + $1.current.socketBytes }
        let directoryPID = cluster.server?.pid ?? 0
        let cpuBefore = processCPUMicroseconds(pid: directoryPID)
        var samples: [UInt64] = []
        let warmup = 20
        for index in 0..<(warmup + changes) {
            let entry = Entry(key: "MDS.\(index % 256)", value: "HOST\(index):1872")
            // The version is only known once the put returns; peers may get the change first,
            // so the tracker expects the next version of this directory's history.
            let next = Version(epoch: writer.replica.version.epoch, index: writer.replica.version.index + 1)
            tracker.expect(next)
            let issued = monotonicNanoseconds()
            let version = try writer.put(table: StandardTable.metadata.name, entry: entry)
            guard version == next else { throw BenchError("put \(index) got \(version), expected \(next)") }
            try waitUntil(timeout: .seconds(30), what: "change \(index) to reach \(shape.agents) peers") {
                tracker.progress.reached >= shape.agents
            }
            if index >= warmup { samples.append(tracker.progress.lastAt - issued) }
        }
        let cpuAfter = processCPUMicroseconds(pid: directoryPID)
        let bytesAfter = peers.reduce(0) { $0 + $1.current.socketBytes }
        guard let summary = LatencySummary(nanoseconds: samples) else { throw BenchError("no samples") }
        let cpu = cpuBefore.flatMap { before in
            cpuAfter.map { Double($0 - before) / Double(warmup + changes) }
        }
        return Result(
            shape: shape, toLast: summary, directoryMicrosecondsPerChange: cpu,
            bytesPerChangePerAgent: Double(bytesAfter - bytesBefore) / Double((warmup + changes) * shape.agents))
    }

    static func print(_ results: [Result], changes: Int) {
        heading("Fan-out: commit → the last of N agents holds the change (\(changes) changes each)")
        var table = TextTable(
            "agents", "p50", "p99", "max", "directory CPU/change", "bytes/change/agent", "target")
        for result in results {
            table.add(
                result.shape.description, Format.millis(result.toLast.p50), Format.millis(result.toLast.p99),
                Format.millis(result.toLast.max),
                result.directoryMicrosecondsPerChange.map { String(format: "%.0f µs", $0) } ?? "?",
                String(format: "%.1f", result.bytesPerChangePerAgent),
                "p99 ≤ \(Format.millis(result.shape.target)): \(Format.verdict(result.toLast.p99 <= result.shape.target))"
            )
        }
        Swift.print(table.render())
    }
}
