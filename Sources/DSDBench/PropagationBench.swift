import DSDAgent
import DSDCore
import Foundation
import NIOCore
import NIOPosix

/// Propagation latency: a put on agent A until agent B's replica holds it, with 1, 10 and 100
/// agents connected to a real `dsd server` process over loopback TCP.
///
/// A and B are in-process `Agent`s (the same driver `dsd agent` runs), so both instants come
/// from one monotonic clock: the put is timed from just before `A.put` is called, the apply on
/// B from B's `observe` callback. The other agents are real `dsd agent` processes (10) or
/// lightweight protocol peers in this process (100) that authenticate, sync and decode every
/// pushed change, so the directory pushes each change to every one of them. Puts go one at a
/// time: each waits until B applied it and A's put returned.
struct PropagationBench {
    struct Setup {
        /// How the agents other than A and B run.
        enum Others { case processes, peers }

        var agents: Int
        var others: Others
        var description: String
        var target: UInt64?
        var logOnTmpfs = false
    }

    struct Result {
        var setup: Setup
        var toB: LatencySummary
        var putReturn: LatencySummary
        var skew: LatencySummary?
        var delivered: String
        var elapsed: Duration
        /// CPU time (user + system) the `dsd server` process spent per put, in microseconds.
        var serverMicrosecondsPerPut: Double?
    }

    let dsd: String
    let scratch: Scratch
    let children: ChildProcesses
    let puts: Int
    let warmup: Int

    static let table = StandardTable.metadata.name

    func run() throws -> [Result] {
        let setups = [
            Setup(agents: 1, others: .processes, description: "1 in-process agent: A = B", target: nil),
            Setup(
                agents: 10, others: .processes, description: "A, B in-process + 8 `dsd agent` processes",
                target: 1_000_000),
            Setup(
                agents: 10, others: .peers, description: "A, B in-process + 8 in-process protocol peers",
                target: 1_000_000),
            Setup(
                agents: 100, others: .peers, description: "A, B in-process + 98 in-process protocol peers",
                target: 5_000_000),
        ]
        var results: [Result] = []
        // The same setups again with the directory's log on tmpfs: what remains is the cost of
        // dsd itself (network, handlers, replicas), without the disk's fdatasync.
        let onTmpfs = setups.map { setup in
            var copy = setup
            copy.logOnTmpfs = true
            return copy
        }
        for setup in setups + onTmpfs {
            let started = ContinuousClock.now
            var result = try measure(setup)
            result.elapsed = ContinuousClock.now - started
            results.append(result)
        }
        return results
    }

    private func measure(_ setup: Setup) throws -> Result {
        let cluster = try Cluster(
            dsd: dsd, scratch: scratch, children: children, name: "propagation-\(setup.agents)-\(setup.others)",
            logOnTmpfs: setup.logOnTmpfs)
        defer { cluster.stop() }
        try cluster.startServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        var peers: [RawPeer] = []
        defer { for peer in peers { try? blocking { await peer.close() } } }

        let a = try cluster.startAgent(host: "HOSTA")
        let b = setup.agents == 1 ? a : try cluster.startAgent(host: "HOSTB")
        let others = max(0, setup.agents - 2)
        if setup.others == .processes {
            for index in 0..<others { try cluster.startAgentProcess(host: "HOST\(index)") }
            try cluster.waitForAgentProcesses()
        } else {
            for index in 0..<others {
                let peer = RawPeer(name: "PEER\(index)")
                peers.append(peer)
                let port = cluster.port
                let key = cluster.key
                try blocking { try await peer.connect(port: port, key: key, group: group, pingInterval: .seconds(2)) }
            }
            try waitUntil(timeout: .seconds(20), what: "protocol peers to sync") {
                peers.allSatisfy { $0.current.synced }
            }
        }

        let clockB = ApplyClock(agent: b, table: Self.table)
        let clockA = a === b ? nil : ApplyClock(agent: a, table: Self.table)
        var toB: [UInt64] = []
        var putReturn: [UInt64] = []
        var skew: [UInt64] = []
        var last = Version.zero
        let serverPID = cluster.server?.pid ?? 0
        let cpuBefore = processCPUMicroseconds(pid: serverPID)
        for index in 0..<(warmup + puts) {
            let entry = Entry(key: "MDS.\(index % 512)", value: "HOST\(index):1872")
            clockB.expect(entry)
            clockA?.expect(entry)
            let issued = monotonicNanoseconds()
            do {
                last = try a.put(table: Self.table, entry: entry)
            } catch {
                throw BenchError("put \(index) failed: \(error)")
            }
            let returned = monotonicNanoseconds()
            guard let applied = clockB.wait(timeoutNanoseconds: 5_000_000_000) else {
                throw BenchError("put \(index) did not reach B within 5 s")
            }
            let appliedOnA = clockA?.wait(timeoutNanoseconds: 5_000_000_000)
            guard index >= warmup else { continue }
            toB.append(applied - issued)
            putReturn.append(returned - issued)
            if let appliedOnA { skew.append(applied > appliedOnA ? applied - appliedOnA : 0) }
        }

        // Every other agent must have received every change too, or the fan-out was not real.
        let cpuAfter = processCPUMicroseconds(pid: serverPID)
        let serverCPU = cpuBefore.flatMap { before in cpuAfter.map { Double($0 - before) / Double(warmup + puts) } }
        let delivered: String
        if setup.agents <= 2 {
            delivered = "-"
        } else if peers.isEmpty {
            try cluster.waitForAgentProcesses(atLeast: last, timeout: .seconds(10))
            delivered = "all \(others) processes at \(last)"
        } else {
            try? waitUntil(timeout: .seconds(10), what: "peers to catch up") {
                peers.allSatisfy { ($0.current.lastVersion ?? .zero) >= last }
            }
            let behind = peers.filter { ($0.current.lastVersion ?? .zero) < last }.count
            let fewest = peers.map { $0.current.changes }.min() ?? 0
            delivered =
                behind == 0
                ? "all \(others) peers at \(last) (≥ \(fewest) changes each)" : "\(behind) of \(others) peers BEHIND"
        }
        return Result(
            setup: setup, toB: LatencySummary(nanoseconds: toB)!, putReturn: LatencySummary(nanoseconds: putReturn)!,
            skew: LatencySummary(nanoseconds: skew), delivered: delivered, elapsed: .zero,
            serverMicrosecondsPerPut: serverCPU)
    }

    static func print(_ results: [Result], puts: Int) {
        heading("propagation: put on agent A → applied in agent B's replica (\(puts) puts each, one at a time)")
        var table = TextTable("log", "agents", "others", "p50", "p99", "max", "mean", "target p99", "")
        for result in results {
            // Targets apply to a durable directory; the tmpfs rows only show where the time goes.
            let goal = result.setup.logOnTmpfs ? nil : result.setup.target
            let target = goal.map { "< " + Format.millis($0) } ?? "-"
            let verdict = goal.map { Format.verdict(result.toB.p99 < $0) } ?? ""
            table.add(
                result.setup.logLabel, "\(result.setup.agents)", result.setup.othersLabel,
                Format.millis(result.toB.p50), Format.millis(result.toB.p99),
                Format.millis(result.toB.max), Format.millis(result.toB.mean), target, verdict)
        }
        Swift.print(table.render())
        Swift.print("\n  put on A returns (committed in the directory's log and applied on A):")
        var returns = TextTable("log", "agents", "others", "p50", "p99", "max")
        for result in results {
            returns.add(
                result.setup.logLabel, "\(result.setup.agents)", result.setup.othersLabel,
                Format.millis(result.putReturn.p50), Format.millis(result.putReturn.p99),
                Format.millis(result.putReturn.max))
        }
        Swift.print(returns.render())
        Swift.print("\n  applied on A → applied on B (the push fan-out alone; 0 when B was first):")
        var skews = TextTable("log", "agents", "others", "p50", "p99", "max")
        for result in results {
            guard let skew = result.skew else { continue }
            skews.add(
                result.setup.logLabel, "\(result.setup.agents)", result.setup.othersLabel, Format.millis(skew.p50),
                Format.millis(skew.p99), Format.millis(skew.max))
        }
        Swift.print(skews.render())
        Swift.print("\n  setups:")
        for result in results {
            let cpu = result.serverMicrosecondsPerPut.map { String(format: "%.0f µs", $0) } ?? "?"
            Swift.print(
                "  \(result.setup.logLabel) \(result.setup.agents), \(result.setup.othersLabel): \(result.setup.description);"
                    + " delivered: \(result.delivered); dsd server CPU per put: \(cpu); \(Format.seconds(result.elapsed))"
            )
        }
        Swift.print(
            "  log disk: the directory's log on the scratch filesystem; every put waits for its fdatasync"
                + " (commit before push).\n  log tmpfs: the same with the log on /dev/shm, where fdatasync costs"
                + " nothing: dsd's own share of the latency.")
    }
}

/// Polls `condition` every 10 ms.
func waitUntil(timeout: Duration, what: String, _ condition: () -> Bool) throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { throw BenchError("timed out waiting for \(what)") }
        usleep(10_000)
    }
}

extension PropagationBench.Setup {
    var logLabel: String { logOnTmpfs ? "tmpfs" : "disk" }

    var othersLabel: String {
        guard agents > 2 else { return "-" }
        return others == .processes ? "processes" : "peers"
    }
}

/// User + system CPU time a process has used so far (`/proc/PID/stat`), in microseconds.
func processCPUMicroseconds(pid: Int32) -> Int? {
    guard let stat = readProcFile("/proc/\(pid)/stat"), let end = stat.lastIndex(of: ")") else { return nil }
    // Fields after the command name start at field 3 (state); utime is field 14, stime 15.
    let fields = stat[stat.index(after: end)...].split(separator: " ")
    guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
    return (user + system) * 1_000_000 / sysconf(Int32(_SC_CLK_TCK))
}
