import DSDAgent
import DSDCore
import Foundation

/// Failure detection: how long after a heartbeat's deadline (last touch + Time_Max) the entry
/// is seen invalid on another agent.
///
/// Agent A (in-process, the driver `dsd agent` runs) puts an entry valid and touches it once
/// with Time_Max 300 ms, then never again — a server that died right after its last
/// heartbeat. A's tracker expires the entry, A submits `put(valid=0)`, the directory (a real
/// `dsd server` process) commits it to its log and pushes it; agent B (in-process too, same
/// monotonic clock) records when its replica applied it. The delay reported is
/// `applied on B − (instant before the touch + Time_Max)`, so it over- rather than
/// under-states the true delay by the touch's own duration. Trials run one at a time.
struct DetectionBench {
    struct Result {
        var beyond: LatencySummary
        var early: Int
    }

    let dsd: String
    let scratch: Scratch
    let children: ChildProcesses
    let trials: Int

    static let table = StandardTable.metadata.name
    static let timeMax = Duration.nanoseconds(Int64(timeMaxNanos))
    static let timeMaxNanos: UInt64 = 300_000_000
    static let warmup = 3
    /// The target: p99 detection delay beyond Time_Max under 50 ms.
    static let target: UInt64 = 50_000_000

    func run() throws -> Result {
        let cluster = try Cluster(dsd: dsd, scratch: scratch, children: children, name: "detection")
        defer { cluster.stop() }
        try cluster.startServer()
        let a = try cluster.startAgent(host: "HOSTA")
        let b = try cluster.startAgent(host: "HOSTB")
        let clock = ApplyClock(agent: b, table: Self.table)
        var beyond: [UInt64] = []
        var early = 0
        for index in 0..<(Self.warmup + trials) {
            let key = "DET.\(index % 16)"
            let valid = Entry(key: key, value: "HOSTA:\(20_000 + index)", valid: true)
            do {
                _ = try a.put(table: Self.table, entry: valid)
            } catch {
                throw BenchError("put \(index) failed: \(error)")
            }
            clock.expect(Entry(key: key, value: valid.value, valid: false))
            let touched = monotonicNanoseconds()
            do {
                _ = try a.heartbeat(table: Self.table, key: key, timeMax: Self.timeMax)
            } catch {
                throw BenchError("heartbeat \(index) failed: \(error)")
            }
            guard let seen = clock.wait(timeoutNanoseconds: 5_000_000_000) else {
                throw BenchError("trial \(index): the expired entry did not reach B within 5 s")
            }
            guard index >= Self.warmup else { continue }
            let deadline = touched + Self.timeMaxNanos
            if seen < deadline { early += 1 }
            beyond.append(seen > deadline ? seen - deadline : 0)
        }
        return Result(beyond: LatencySummary(nanoseconds: beyond)!, early: early)
    }

    static func print(_ result: Result, trials: Int) {
        heading(
            "detection: heartbeat deadline (last touch + Time_Max \(timeMaxNanos / 1_000_000) ms) → invalid on another agent (\(trials) trials)"
        )
        var table = TextTable("p50", "p99", "max", "mean", "target p99", "")
        table.add(
            Format.millis(result.beyond.p50), Format.millis(result.beyond.p99), Format.millis(result.beyond.max),
            Format.millis(result.beyond.mean), "< " + Format.millis(target), Format.verdict(result.beyond.p99 < target))
        Swift.print(table.render())
        if result.early > 0 {
            Swift.print("  WARNING: \(result.early) trials seen invalid before their deadline")
        }
    }
}
