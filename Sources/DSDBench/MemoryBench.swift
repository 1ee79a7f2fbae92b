import DSDClient
import DSDCore
import Foundation
import Synchronization

/// Resident memory of a real `dsd server` and real `dsd agent` processes with 10,000 and
/// 100,000 entries loaded.
///
/// Entries are written through agent 1's Unix socket by several `AgentClient`s in parallel (the
/// same path as `dsd put`/`dsd load`; parallel so the directory's group commit keeps loading
/// fast). Agent 1 receives them as pushed changes; agent 2 starts after the first 10,000 and
/// receives them as a snapshot. VmRSS is read from `/proc/PID/status` once the agents hold the
/// last version and a second has passed.
struct MemoryBench {
    struct Sample {
        var label: String
        var entries: Int
        var memory: ProcessMemory
        var role: Role
    }

    enum Role { case server, agent }

    struct Run {
        var samples: [Sample] = []
        var loadTimes: [(entries: Int, duration: Duration)] = []
    }

    let dsd: String
    let scratch: Scratch
    let children: ChildProcesses
    let counts: [Int]
    let writers = 16
    static let agentTarget = 20 * 1024
    static let serverTarget = 30 * 1024
    static let table = "BENCH_LOAD"

    func run() throws -> Run {
        let cluster = try Cluster(dsd: dsd, scratch: scratch, children: children, name: "rss")
        defer { cluster.stop() }
        try cluster.startServer()
        let first = try cluster.startAgentProcess(host: "HOST1")
        try cluster.waitForAgentProcesses()
        let socket = cluster.agentProcesses[0].socket
        var run = Run()
        try settle()
        run.samples.append(
            Sample(label: "dsd server", entries: 0, memory: try memory(of: cluster.server!), role: .server))
        run.samples.append(Sample(label: "dsd agent 1", entries: 0, memory: try memory(of: first), role: .agent))
        do {
            try AgentClient(socketPath: socket).createTable(Self.table)
        } catch {
            throw BenchError("cannot create \(Self.table): \(error)")
        }
        var loaded = 0
        var second: ChildProcess?
        for count in counts {
            let started = ContinuousClock.now
            let last = try load(from: loaded, to: count, socket: socket)
            run.loadTimes.append((count - loaded, ContinuousClock.now - started))
            loaded = count
            if second == nil { second = try cluster.startAgentProcess(host: "HOST2") }
            try cluster.waitForAgentProcesses(atLeast: last, timeout: .seconds(60))
            try settle()
            run.samples.append(
                Sample(label: "dsd server", entries: count, memory: try memory(of: cluster.server!), role: .server))
            run.samples.append(
                Sample(label: "dsd agent 1 (changes)", entries: count, memory: try memory(of: first), role: .agent))
            if let second {
                let how = count == counts[0] ? "(snapshot)" : "(snapshot + changes)"
                run.samples.append(
                    Sample(label: "dsd agent 2 \(how)", entries: count, memory: try memory(of: second), role: .agent))
            }
        }
        return run
    }

    private func settle() throws {
        usleep(1_000_000)
    }

    private func memory(of child: ChildProcess) throws -> ProcessMemory {
        guard let memory = ProcessMemory(pid: child.pid) else { throw BenchError("cannot read /proc/\(child.pid)") }
        return memory
    }

    /// Puts entries `from..<to` with `writers` parallel clients; returns the newest version.
    private func load(from: Int, to: Int, socket: String) throws -> Version {
        let newest = Locked<(version: Version, error: String?)>((.zero, nil))
        let done = DispatchGroup()
        let writers = self.writers
        for writer in 0..<writers {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                do {
                    let client = try AgentClient(socketPath: socket, timeout: .seconds(30))
                    var last = Version.zero
                    for index in stride(from: from + writer, to: to, by: writers) {
                        let entry = Entry(
                            key: String(format: "KEY.%06d", index),
                            value: String(format: "HOST%05d:1872", index % 100_000))
                        if let version = try client.put(table: Self.table, entry: entry) { last = max(last, version) }
                    }
                    newest.value.withLock { $0.version = max($0.version, last) }
                } catch {
                    newest.value.withLock { $0.error = "\(error)" }
                }
            }
        }
        done.wait()
        let result = newest.value.withLock { $0 }
        if let error = result.error { throw BenchError("loading failed: \(error)") }
        return result.version
    }

    static func print(_ run: Run) {
        heading("rss: resident memory of real processes (VmRSS from /proc/PID/status)")
        var table = TextTable("process", "entries", "VmRSS", "anon", "file", "PSS", "threads", "target", "")
        for sample in run.samples {
            let limit = sample.role == .server ? serverTarget : agentTarget
            let target = sample.entries == 10_000 ? "≤ " + Format.mebibytes(kibibytes: limit) : "-"
            let verdict = sample.entries == 10_000 ? Format.verdict(sample.memory.rss <= limit) : ""
            table.add(
                sample.label, "\(sample.entries)", Format.mebibytes(kibibytes: sample.memory.rss),
                Format.mebibytes(kibibytes: sample.memory.rssAnon), Format.mebibytes(kibibytes: sample.memory.rssFile),
                Format.mebibytes(kibibytes: sample.memory.pss), "\(sample.memory.threads)", target, verdict)
        }
        Swift.print(table.render())
        Swift.print(
            "  anon: the process's own heap, stacks and data; file: resident pages of the dsd executable and"
                + " the shared\n  libraries it maps (libc, libstdc++, libfuse), counted in full by every"
                + " process; PSS divides\n  shared pages among the processes mapping them.")
        for (entries, duration) in run.loadTimes {
            let rate = Double(entries) / duration.inSeconds
            Swift.print(
                "  loaded \(entries) entries through the agent socket in \(Format.seconds(duration)) (\(Int(rate)) puts/s, 16 clients)"
            )
        }
        Swift.print("\n  where the memory is (resident, largest mappings first):")
        for sample in run.samples where sample.entries == 10_000 || sample.entries == 0 {
            Swift.print("  \(sample.label), \(sample.entries) entries: \(sample.memory.topMappings(6))")
        }
    }
}

/// A value behind a lock that escaping closures on several threads can share.
final class Locked<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
}
