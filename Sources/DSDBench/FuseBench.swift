import DSDClient
import DSDCore
import Foundation
import Glibc

/// The `/dsd` filesystem with real agents: a `dsd server` and two `dsd agent --mount`
/// processes (A and B) on loopback, each with its own mountpoint.
///
/// - reads: open + read + close of `find/MDS.1` and of a table entry on A's mount against a
///   file of the same bytes on tmpfs (/dev/shm), in alternating blocks so that both see the
///   same load; each sample is one open+read+close timed with CLOCK_MONOTONIC.
/// - cat: a whole `cat` process (posix_spawn + waitpid, stdout to /dev/null) of the entry
///   against `cat` of the tmpfs file, alternating.
/// - inotify: open + write + close of an entry on A's mount (the write returns once the
///   directory committed it) → IN_MODIFY on an inotify watch of B's table directory, taken in
///   this process. Each trial waits for B's IN_CLOSE_WRITE of the previous one first.
struct FuseBench {
    struct Result {
        var reads: [(name: String, fuse: LatencySummary, tmpfs: LatencySummary)]
        var cat: (fuse: LatencySummary, tmpfs: LatencySummary)
        var writes: [Writes]
        var bytes: [String: Int]
    }

    /// Write → remote inotify with the directory's log on `log` (disk, or tmpfs where fdatasync
    /// costs nothing, which isolates what the filesystem and propagation add).
    struct Writes {
        var log: String
        /// open + write + close on A: returns once the directory committed the change.
        var commit: LatencySummary
        /// From the write's return to IN_MODIFY on B: propagation + B's reflection.
        var afterCommit: LatencySummary
        /// From the write's start to IN_MODIFY on B.
        var total: LatencySummary
    }

    let dsd: String
    let scratch: Scratch
    let children: ChildProcesses
    var iterations = 20_000
    var catRuns = 300
    var writes = 1_000

    static let table = StandardTable.metadata.name
    static let routes = StandardTable.hostRoute.name
    /// The targets: reads within 2× of tmpfs, a whole `cat` within 1.1×, p99 of
    /// write → remote IN_MODIFY under 2 ms on loopback.
    static let readRatioTarget = 2.0
    static let catRatioTarget = 1.1
    static let inotifyTarget: UInt64 = 2_000_000

    /// `nil` without root or /dev/fuse (mounting needs both): reported as skipped.
    func run() throws -> Result? {
        guard getuid() == 0, access("/dev/fuse", R_OK | W_OK) == 0 else { return nil }
        var result = try withMountedPair(logOnTmpfs: false) { a, b in
            let find = a.mountpoint + "/find/MDS.1"
            let entry = a.mountpoint + "/tables/\(Self.table)/MDS.1"
            let shm = "/dev/shm/dsd-bench-fuse-\(getpid())"
            defer { unlink(shm) }
            var reads: [(String, LatencySummary, LatencySummary)] = []
            var bytes: [String: Int] = [:]
            for (name, path) in [("find/MDS.1", find), ("tables/\(Self.table)/MDS.1", entry)] {
                guard let content = readFile(path) else { throw BenchError("cannot read \(path)") }
                bytes[name] = content.count
                try writeFile(shm, content)
                let (fuse, tmpfs) = alternate(blocks: 20, total: iterations, paths: (path, shm), openReadClose)
                reads.append((name, fuse, tmpfs))
            }
            try writeFile(shm, readFile(entry) ?? [])
            let (catFuse, catTmpfs) = alternate(blocks: 10, total: catRuns, paths: (entry, shm), spawnCat)
            let writes = try writeToInotify(a, b, log: "disk")
            return Result(reads: reads, cat: (catFuse, catTmpfs), writes: [writes], bytes: bytes)
        }
        result.writes.append(
            try withMountedPair(logOnTmpfs: true) { a, b in try writeToInotify(a, b, log: "tmpfs") })
        return result
    }

    /// A server and two mounting agents, seeded (`MDS.1 → HOST9:1872`, `HOST9.0 → 127.0.9.1`,
    /// `BENCH.1`), handed to `body`; everything is stopped and unmounted afterwards.
    private func withMountedPair<T>(
        logOnTmpfs: Bool, _ body: (MountedAgent, MountedAgent) throws -> T
    ) throws -> T {
        let name = logOnTmpfs ? "fuse-tmpfs" : "fuse"
        let cluster = try Cluster(dsd: dsd, scratch: scratch, children: children, name: name, logOnTmpfs: logOnTmpfs)
        var agents: [MountedAgent] = []
        defer {
            for agent in agents.reversed() { agent.stop(children) }
            cluster.stop()
        }
        try cluster.startServer()
        for host in ["HOSTA", "HOSTB"] {
            agents.append(try MountedAgent.start(host: host, cluster: cluster, children: children))
        }
        for agent in agents { try agent.waitReady() }
        let (a, b) = (agents[0], agents[1])
        let seeder = try AgentClient(socketPath: a.socket, timeout: .seconds(5))
        _ = try seeder.put(table: Self.routes, entry: Entry(key: "HOST9.0", value: "127.0.9.1"))
        _ = try seeder.put(table: Self.table, entry: Entry(key: "MDS.1", value: "HOST9:1872"))
        _ = try seeder.put(table: Self.table, entry: Entry(key: "BENCH.1", value: "HOSTA:0"))
        let files = [
            a.mountpoint + "/find/MDS.1", a.mountpoint + "/tables/\(Self.table)/MDS.1",
            b.mountpoint + "/tables/\(Self.table)/BENCH.1",
        ]
        for file in files {
            guard waitUntil(.seconds(10), { readFile(file) != nil }) else {
                throw BenchError("\(file) did not become readable")
            }
        }
        return try body(a, b)
    }

    /// Runs `measure` on two paths in alternating blocks (after a warm-up of each); returns the
    /// summaries of the first and the second path.
    private func alternate(
        blocks: Int, total: Int, paths: (String, String), _ measure: (String) -> UInt64
    ) -> (LatencySummary, LatencySummary) {
        let perBlock = max(1, total / blocks)
        for _ in 0..<min(perBlock, 200) {
            _ = measure(paths.0)
            _ = measure(paths.1)
        }
        var first: [UInt64] = []
        var second: [UInt64] = []
        first.reserveCapacity(total)
        second.reserveCapacity(total)
        for _ in 0..<blocks {
            for _ in 0..<perBlock { first.append(measure(paths.0)) }
            for _ in 0..<perBlock { second.append(measure(paths.1)) }
        }
        return (LatencySummary(nanoseconds: first)!, LatencySummary(nanoseconds: second)!)
    }

    /// Write through A's mount → IN_MODIFY of the entry on B's watch.
    private func writeToInotify(_ a: MountedAgent, _ b: MountedAgent, log: String) throws -> Writes {
        let key = "BENCH.1"
        let entry = a.mountpoint + "/tables/\(Self.table)/\(key)"
        let watched = b.mountpoint + "/tables/\(Self.table)"
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { throw BenchError("inotify_init1: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard inotify_add_watch(fd, watched, UInt32(IN_MODIFY | IN_CLOSE_WRITE)) >= 0 else {
            throw BenchError("inotify_add_watch \(watched): \(String(cString: strerror(errno)))")
        }
        var commits: [UInt64] = []
        var afterCommit: [UInt64] = []
        var latencies: [UInt64] = []
        var pending: [(mask: UInt32, name: String, at: UInt64)] = []
        let warmup = 50
        for trial in 0..<(warmup + writes) {
            let line = Array("HOSTA:\(trial + 1)\n".utf8)
            let start = monotonicNow()
            let file = open(entry, O_WRONLY | O_TRUNC | O_CLOEXEC)
            guard file >= 0 else { throw BenchError("open \(entry): \(String(cString: strerror(errno)))") }
            let written = line.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
            close(file)
            let committed = monotonicNow()
            guard written == line.count else { throw BenchError("write \(trial): \(String(cString: strerror(errno)))") }
            guard let modified = waitForEvent(fd, IN_MODIFY, key: key, pending: &pending) else {
                throw BenchError("trial \(trial): no IN_MODIFY on B within 5 s")
            }
            // Let B's reflection finish (its IN_CLOSE_WRITE) before the next trial.
            guard waitForEvent(fd, IN_CLOSE_WRITE, key: key, pending: &pending) != nil else {
                throw BenchError("trial \(trial): no IN_CLOSE_WRITE on B within 5 s")
            }
            guard trial >= warmup else { continue }
            commits.append(committed - start)
            afterCommit.append(modified > committed ? modified - committed : 0)
            latencies.append(modified - start)
        }
        return Writes(
            log: log, commit: LatencySummary(nanoseconds: commits)!,
            afterCommit: LatencySummary(nanoseconds: afterCommit)!, total: LatencySummary(nanoseconds: latencies)!)
    }

    /// Reads inotify events until one of `mask` for `key`; returns the instant it was read.
    /// Events read along with it stay in `pending` for the next call.
    private func waitForEvent(
        _ fd: Int32, _ mask: Int32, key: String, pending: inout [(mask: UInt32, name: String, at: UInt64)]
    ) -> UInt64? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = monotonicNow() + 5_000_000_000
        while true {
            if let index = pending.firstIndex(where: { $0.mask & UInt32(mask) != 0 && $0.name == key }) {
                let at = pending[index].at
                pending.removeFirst(index + 1)
                return at
            }
            guard monotonicNow() < deadline else { return nil }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { continue }
            let count = read(fd, &buffer, buffer.count)
            let now = monotonicNow()
            var offset = 0
            while count > 0, offset + 16 <= count {
                let eventMask = buffer.withUnsafeBytes { $0.load(fromByteOffset: offset + 4, as: UInt32.self) }
                let length = Int(buffer.withUnsafeBytes { $0.load(fromByteOffset: offset + 12, as: UInt32.self) })
                let nameBytes = buffer[(offset + 16)..<min(count, offset + 16 + length)].prefix { $0 != 0 }
                pending.append((eventMask, String(decoding: nameBytes, as: UTF8.self), now))
                offset += 16 + length
            }
        }
    }

    static func print(_ result: Result?, iterations: Int, catRuns: Int, writes: Int) {
        guard let result else {
            heading("fuse: skipped (needs root and /dev/fuse)")
            return
        }
        heading("fuse: open+read+close on A's mount vs the same bytes on tmpfs (\(iterations) each, alternating)")
        var table = TextTable("file", "bytes", "p50", "p99", "tmpfs p50", "tmpfs p99", "ratio p50", "target", "")
        for row in result.reads {
            let ratio = Double(row.fuse.p50) / Double(max(1, row.tmpfs.p50))
            table.add(
                row.name, "\(result.bytes[row.name] ?? 0)", micros(row.fuse.p50), micros(row.fuse.p99),
                micros(row.tmpfs.p50), micros(row.tmpfs.p99), String(format: "%.2f×", ratio),
                String(format: "≤ %.1f×", readRatioTarget), Format.verdict(ratio <= readRatioTarget))
        }
        Swift.print(table.render())

        heading("fuse: a whole `cat` process (posix_spawn + wait) of the entry vs of the tmpfs file (\(catRuns) each)")
        var cat = TextTable("", "p50", "p99", "mean", "ratio p50", "target", "")
        let catRatio = Double(result.cat.fuse.p50) / Double(max(1, result.cat.tmpfs.p50))
        cat.add(
            "/dsd entry", micros(result.cat.fuse.p50), micros(result.cat.fuse.p99), micros(result.cat.fuse.mean),
            String(format: "%.3f×", catRatio), String(format: "≤ %.1f×", catRatioTarget),
            Format.verdict(catRatio <= catRatioTarget))
        cat.add(
            "tmpfs", micros(result.cat.tmpfs.p50), micros(result.cat.tmpfs.p99), micros(result.cat.tmpfs.mean), "",
            "", "")
        Swift.print(cat.render())

        heading("fuse: write through A's mount → IN_MODIFY on B's watch (\(writes) writes per directory log)")
        var notify = TextTable("directory log", "", "p50", "p99", "max", "mean", "target p99", "")
        for run in result.writes {
            notify.add(
                run.log, "open+write+close on A (commit)", Format.millis(run.commit.p50), Format.millis(run.commit.p99),
                Format.millis(run.commit.max), Format.millis(run.commit.mean), "", "")
            notify.add(
                "", "write returned → IN_MODIFY on B", Format.millis(run.afterCommit.p50),
                Format.millis(run.afterCommit.p99), Format.millis(run.afterCommit.max),
                Format.millis(run.afterCommit.mean), "", "")
            notify.add(
                "", "write start → IN_MODIFY on B", Format.millis(run.total.p50), Format.millis(run.total.p99),
                Format.millis(run.total.max), Format.millis(run.total.mean), "< " + Format.millis(inotifyTarget),
                Format.verdict(run.total.p99 < inotifyTarget))
        }
        Swift.print(notify.render())
    }

    private static func micros(_ nanoseconds: UInt64) -> String {
        String(format: "%.2f µs", Double(nanoseconds) / 1000)
    }

    private static func micros(_ nanoseconds: Double) -> String {
        String(format: "%.2f µs", nanoseconds / 1000)
    }
}

/// A `dsd agent --mount` process with its mountpoint.
struct MountedAgent {
    let host: String
    let child: ChildProcess
    let socket: String
    let mountpoint: String

    static func start(host: String, cluster: Cluster, children: ChildProcesses) throws -> MountedAgent {
        let mountpoint = try cluster.scratch.directory("mnt-\(host)")
        chmod(mountpoint, 0o755)
        let socket = cluster.scratch.file("\(host).sock")
        let child = try children.spawn(
            name: "dsd agent \(host)", executable: cluster.dsd,
            arguments: [
                "agent", "--server", "127.0.0.1:\(cluster.port)", "--host", host, "--cluster-key", cluster.keyPath,
                "--socket", socket, "--mount", mountpoint, "--log-level", "warning",
            ],
            logPath: cluster.scratch.file("\(host).log"))
        return MountedAgent(host: host, child: child, socket: socket, mountpoint: mountpoint)
    }

    /// Waits until the agent is connected and both of its sessions are mounted.
    func waitReady() throws {
        let ready = waitUntil(.seconds(20)) {
            guard child.isRunning, let status = try? AgentClient(socketPath: socket, timeout: .seconds(2)).status()
            else { return false }
            let fields = Dictionary(status, uniquingKeysWith: { $1 })
            let mounts = mountedPaths()
            return fields["state"] == "connected" && mounts.contains(mountpoint)
                && mounts.contains(mountpoint + "/events")
        }
        guard ready else { throw BenchError("\(child.name) not connected and mounted:\n\(child.logTail())") }
    }

    /// SIGTERM (the agent unmounts both sessions), then detaches whatever is left.
    func stop(_ children: ChildProcesses) {
        children.stop(child)
        for path in [mountpoint + "/events", mountpoint] where mountedPaths().contains(path) {
            for arguments in [["-u", path], ["-u", "-z", path]] where mountedPaths().contains(path) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/fusermount3")
                process.arguments = arguments
                process.standardError = FileHandle.nullDevice
                guard (try? process.run()) != nil else { continue }
                process.waitUntilExit()
            }
        }
    }
}

func mountedPaths() -> Set<String> {
    let text = readProcFile("/proc/self/mounts") ?? ""
    return Set(text.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) })
}

func waitUntil(_ limit: Duration, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

private func monotonicNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = read(fd, &buffer, buffer.count)
    return count > 0 ? Array(buffer[0..<count]) : nil
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw BenchError("cannot write \(path)")
    }
}

/// One open + read + close, in nanoseconds.
func openReadClose(_ path: String) -> UInt64 {
    var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
    let start = monotonicNow()
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    _ = withUnsafeMutableBytes(of: &buffer) { read(fd, $0.baseAddress, $0.count) }
    close(fd)
    return monotonicNow() - start
}

/// One whole `cat path > /dev/null` process, in nanoseconds.
private func spawnCat(_ path: String) -> UInt64 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/cat"), strdup(path), nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let start = monotonicNow()
    guard posix_spawn(&pid, "/bin/cat", &actions, nil, argv, environ) == 0 else { return 0 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return monotonicNow() - start
}
