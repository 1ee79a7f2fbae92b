import DSDClient
import DSDCore
import Foundation
import Synchronization

/// A large directory (10^4 to 10^6 entries) on real processes: a `dsd server`, agent A with a
/// mount that `dsd load` writes through, then agent B with a mount joining.
///
/// Printed per size: the load's time and rate (`dsd load --batch 5000` of lines
/// `DSD_MTID_BSS BSS.<i> HOST<i mod 5000>:1700 1`); the join's time until B is synced and until
/// 1,001 sampled entries (1,000 random and the last) read right through B's mount; resident
/// memory of the directory and both agents once settled; puts through B's socket while it
/// joins (one every 20 ms, from when its socket answers); repeated open+read+close of one
/// entry on B's mount against the same bytes on tmpfs.
struct ScaleBench {
    struct Row {
        var entries: Int
        var load: Duration
        var joinSynced: Duration
        var joinReadable: Duration
        var serverKiB: Int
        var loaderKiB: Int
        var joinedKiB: Int
        var writesDuringJoin: LatencySummary?
        var lookup: LatencySummary
        var lookupTmpfs: LatencySummary
    }

    let dsd: String
    let scratch: Scratch
    let children: ChildProcesses
    let counts: [Int]
    static let table = "DSD_MTID_BSS"

    func run() throws -> [Row]? {
        guard getuid() == 0, access("/dev/fuse", R_OK | W_OK) == 0 else { return nil }
        return try counts.map(measure)
    }

    private func measure(_ count: Int) throws -> Row {
        let cluster = try Cluster(dsd: dsd, scratch: scratch, children: children, name: "scale-\(count)")
        var agents: [MountedAgent] = []
        defer {
            for agent in agents.reversed() { agent.stop(children) }
            cluster.stop()
        }
        try cluster.startServer()
        let a = try MountedAgent.start(host: "HOSTA", cluster: cluster, children: children)
        agents.append(a)
        try a.waitReady()

        let file = cluster.scratch.file("load.txt")
        try Self.writeLoadFile(file, count: count)
        let loadStarted = ContinuousClock.now
        let loader = try children.spawn(
            name: "dsd load", executable: dsd, arguments: ["load", "--batch", "5000", "--socket", a.socket, file],
            logPath: cluster.scratch.file("load.log"))
        guard loader.waitForExit(timeout: .seconds(900)), loader.exitStatus == 0 else {
            throw BenchError("dsd load failed:\n\(loader.logTail())")
        }
        let load = ContinuousClock.now - loadStarted
        let version = try Self.version(of: a.socket)
        usleep(1_000_000)
        let serverKiB = ProcessMemory(pid: cluster.server!.pid)?.rss ?? 0
        let loaderKiB = ProcessMemory(pid: a.child.pid)?.rss ?? 0

        // B joins; puts through B's socket run meanwhile, until the sampled entries read right.
        let joinStarted = ContinuousClock.now
        let b = try MountedAgent.start(host: "HOSTB", cluster: cluster, children: children)
        agents.append(b)
        let joining = Atomic<Bool>(true)
        let writes = Locked<[UInt64]>([])
        let writer = Thread {
            var index = 0
            while joining.load(ordering: .relaxed) {
                guard let client = try? AgentClient(socketPath: b.socket, timeout: .seconds(10)) else {
                    usleep(5_000)
                    continue
                }
                while joining.load(ordering: .relaxed) {
                    let started = monotonicNanoseconds()
                    guard
                        (try? client.put(
                            table: "DSD_MTID_METADATA", entry: Entry(key: "JOIN.\(index)", value: "HOSTB:1")))
                            != nil
                    else { break }
                    writes.value.withLock { $0.append(monotonicNanoseconds() - started) }
                    index += 1
                    usleep(20_000)
                }
                usleep(5_000)
            }
        }
        writer.start()
        defer { joining.store(false, ordering: .relaxed) }
        try b.waitReady()
        guard waitUntil(.seconds(600), { (try? Self.version(of: b.socket)).map { $0 >= version } ?? false }) else {
            throw BenchError("agent B did not reach \(version):\n\(b.child.logTail())")
        }
        let joinSynced = ContinuousClock.now - joinStarted
        var sample = Set((0..<1000).map { _ in Int.random(in: 0..<count) })
        sample.insert(count - 1)
        let readable = waitUntil(.seconds(600)) {
            sample = sample.filter { index in
                readFile(b.mountpoint + "/tables/\(Self.table)/BSS.\(index)") != Array(Self.content(index).utf8)
            }
            return sample.isEmpty
        }
        guard readable else { throw BenchError("\(sample.count) sampled entries unreadable through B's mount") }
        let joinReadable = ContinuousClock.now - joinStarted
        joining.store(false, ordering: .relaxed)
        usleep(1_000_000)
        let joinedKiB = ProcessMemory(pid: b.child.pid)?.rss ?? 0

        // Repeated open+read+close of one entry (in the kernel's cache, as a client polling
        // its server's route does), alternating in blocks with the same bytes on tmpfs.
        let shm = "/dev/shm/dsd-bench-scale-\(getpid())"
        defer { unlink(shm) }
        let entry = b.mountpoint + "/tables/\(Self.table)/BSS.\(count / 2)"
        try writeFile(shm, Array(Self.content(count / 2).utf8))
        for _ in 0..<200 {
            _ = openReadClose(entry)
            _ = openReadClose(shm)
        }
        var fuse: [UInt64] = []
        var tmpfs: [UInt64] = []
        for _ in 0..<20 {
            for _ in 0..<500 { fuse.append(openReadClose(entry)) }
            for _ in 0..<500 { tmpfs.append(openReadClose(shm)) }
        }
        return Row(
            entries: count, load: load, joinSynced: joinSynced, joinReadable: joinReadable, serverKiB: serverKiB,
            loaderKiB: loaderKiB, joinedKiB: joinedKiB,
            writesDuringJoin: LatencySummary(nanoseconds: writes.value.withLock { $0 }),
            lookup: LatencySummary(nanoseconds: fuse)!, lookupTmpfs: LatencySummary(nanoseconds: tmpfs)!)
    }

    static func content(_ index: Int) -> String { "HOST\(index % 5000):1700 1\n" }

    static func writeLoadFile(_ path: String, count: Int) throws {
        guard let handle = FileHandle(forWritingAtPath: path) ?? create(path) else {
            throw BenchError("cannot write \(path)")
        }
        defer { try? handle.close() }
        var chunk = ""
        for index in 0..<count {
            chunk += "\(table) BSS.\(index) HOST\(index % 5000):1700 1\n"
            if chunk.utf8.count > 1 << 20 {
                handle.write(Data(chunk.utf8))
                chunk = ""
            }
        }
        handle.write(Data(chunk.utf8))
    }

    private static func create(_ path: String) -> FileHandle? {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }

    static func version(of socket: String) throws -> Version {
        let status = Dictionary(
            try AgentClient(socketPath: socket, timeout: .seconds(5)).status(), uniquingKeysWith: { $1 })
        guard let version = status["version"].flatMap(Version.init(text:)) else {
            throw BenchError("no version in the status of \(socket)")
        }
        return version
    }

    static func print(_ rows: [Row]?) {
        heading("scale: dsd load through a mounted agent, a mounted agent joining, memory, lookups")
        guard let rows else {
            Swift.print("  skipped: needs root and /dev/fuse")
            return
        }
        var table = TextTable(
            "entries", "load", "entries/s", "join: synced", "join: readable", "directory RSS", "agent RSS", "joined RSS"
        )
        for row in rows {
            table.add(
                "\(row.entries)", Format.seconds(row.load), "\(Int(Double(row.entries) / row.load.inSeconds))",
                Format.seconds(row.joinSynced), Format.seconds(row.joinReadable),
                Format.mebibytes(kibibytes: row.serverKiB), Format.mebibytes(kibibytes: row.loaderKiB),
                Format.mebibytes(kibibytes: row.joinedKiB))
        }
        Swift.print(table.render())
        var lookups = TextTable(
            "entries", "lookup p50", "tmpfs p50", "ratio", "target", "", "puts during the join", "p50", "p99")
        for row in rows {
            let ratio = Double(row.lookup.p50) / Double(max(1, row.lookupTmpfs.p50))
            lookups.add(
                "\(row.entries)", Format.millis(row.lookup.p50), Format.millis(row.lookupTmpfs.p50),
                String(format: "%.2f×", ratio), "≤ 1.5×", Format.verdict(ratio <= 1.5),
                "\(row.writesDuringJoin?.count ?? 0)", row.writesDuringJoin.map { Format.millis($0.p50) } ?? "-",
                row.writesDuringJoin.map { Format.millis($0.p99) } ?? "-")
        }
        Swift.print(lookups.render())
        if let largest = rows.last {
            Swift.print(
                "  at \(largest.entries) entries: load \(Format.verdict(largest.load <= .seconds(10))) (target ≤ 10 s; etcd 3.4.23 took 24.4 s for 10^6, not re-measured),"
                    + " join \(Format.verdict(largest.joinReadable <= .seconds(3))) (≤ 3 s), agent RSS \(Format.verdict(largest.joinedKiB <= 150 * 1024)) (≤ 150 MB),"
                    + " directory RSS \(Format.verdict(largest.serverKiB <= 150 * 1024)) (≤ 150 MB)")
            Swift.print(
                "  bytes per entry: "
                    + rows.map {
                        "\($0.entries): directory \($0.serverKiB * 1024 / $0.entries), agent \($0.loaderKiB * 1024 / $0.entries)"
                    }.joined(separator: "; "))
        }
    }
}
