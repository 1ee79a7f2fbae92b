import DSDTestSupport
import Foundation

/// The checkout the tests were built from: mount-examples/ and the Makefile are run from there.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

func exampleScript(_ name: String) -> String { repositoryRoot + "/mount-examples/" + name }

/// The mount tests need root and /dev/fuse; CI has both, so a missing one is a failure, not a skip.
func requireRootAndFuse() throws {
    guard access("/dev/fuse", R_OK | W_OK) == 0, getuid() == 0 else {
        throw HarnessError("the mount tests need root and /dev/fuse (CI has both)")
    }
}

/// Pids of the processes whose command line contains `fragment` (a test's unique temporary path).
func processIDs(commandLineContaining fragment: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { name -> Int32? in
        guard let pid = Int32(name), pid != getpid(),
            let bytes = FileManager.default.contents(atPath: "/proc/\(name)/cmdline"), !bytes.isEmpty
        else { return nil }
        let line = String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
        return line.contains(fragment) ? pid : nil
    }
}

func isAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    // A zombie is gone for every purpose here.
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    return !(stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? true)
}

/// SIGTERM to each pid, SIGKILL to those still alive after `grace`.
func terminate(_ pids: [Int32], grace: Duration = .seconds(3)) {
    for pid in pids { kill(pid, SIGTERM) }
    _ = eventually(within: grace, every: .milliseconds(20)) { !pids.contains(where: isAlive) }
    for pid in pids where isAlive(pid) { kill(pid, SIGKILL) }
}

func isMounted(_ path: String) -> Bool {
    ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "").split(separator: "\n")
        .contains { $0.split(separator: " ").dropFirst().first.map(String.init) == path }
}

/// True once a child of `parent` holds an inotify watch (inotifywait has set up its watches).
func inotifyWatching(under parent: Int32) -> Bool {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for name in entries {
        guard let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
            let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 2,
            Int32(fields[1]) == parent
        else { continue }
        let fdinfo = "/proc/\(name)/fdinfo"
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: fdinfo)) ?? [] {
            let text = (try? String(contentsOfFile: "\(fdinfo)/\(fd)", encoding: .utf8)) ?? ""
            if text.contains("inotify wd:") { return true }
        }
    }
    return false
}

/// `dsd up` with a mount and the seed tables: one process, directory and agent, as the README's
/// "Running it" starts it. Stopped (unmounting) when released.
final class MountedUp {
    let dir: TempDirectory
    let process: ChildProcess
    let mountpoint: String
    let socket: String

    init() throws {
        try requireRootAndFuse()
        dir = try TempDirectory(prefix: "/tmp/dsd-sc-")
        mountpoint = dir.file("mnt")
        socket = dir.file("up.sock")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        process = try ChildProcess(
            name: "up", executable: try DSDBinary.path(),
            arguments: [
                "up", "--listen", "127.0.0.1:\(try freeLoopbackPort())", "--data", dir.file("data"), "--socket", socket,
                "--mount", mountpoint, "--seed", exampleScript("seed-tables.txt"), "--host", "HOSTT",
            ],
            logDirectory: dir.path)
        let seeded = eventually(within: .seconds(20), every: .milliseconds(20)) {
            !process.isRunning || readFile(mountpoint + "/find/MDS.1") == "127.0.9.1:1872\n"
        }
        guard seeded != nil, process.isRunning else {
            throw HarnessError("dsd up did not mount the seed tables: \(process.stderr)")
        }
    }

    func path(_ relative: String) -> String { mountpoint + "/" + relative }

    /// A shell command line, run to completion.
    func sh(_ script: String) throws -> CommandOutcome { try shell(script, in: dir) }

    deinit {
        // Whatever a script left behind runs on this test's unique paths.
        terminate(processIDs(commandLineContaining: dir.path).filter { $0 != process.pid })
        process.stop(grace: .seconds(5))
        Cluster.detach(mountpoint + "/events")
        Cluster.detach(mountpoint)
    }
}

/// A script started as from a terminal: posix_spawn with an empty signal mask and default
/// SIGINT/SIGTERM/SIGHUP/SIGPIPE (children of Foundation's `Process` inherit the test runner's
/// blocked signals, and a shell script would never see its SIGTERM), standard input from
/// /dev/null, output to files. Killed with SIGKILL and reaped on release.
final class Spawned {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    private var status: Int32?

    init(_ executable: String, _ arguments: [String], in dir: TempDirectory, name: String = "script") throws {
        let stamp = UUID().uuidString.prefix(8)
        stdoutPath = dir.file("\(name)-\(stamp).out")
        stderrPath = dir.file("\(name)-\(stamp).err")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw HarnessError("cannot start \(executable): \(String(cString: strerror(rc)))") }
        pid = child
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    var isRunning: Bool {
        if status == nil {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
        }
        return status == nil
    }

    /// The exit status, or 128 + the signal that ended it.
    var exitStatus: Int32 {
        guard let raw = status else { return -1 }
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    }

    func signal(_ signal: Int32) { if isRunning { kill(pid, signal) } }

    func waitForExit(within limit: Duration) -> Bool {
        eventually(within: limit, every: .milliseconds(5)) { !isRunning } != nil
    }

    /// Runs to completion (killed at `timeout`).
    static func run(
        _ executable: String, _ arguments: [String], in dir: TempDirectory, timeout: Duration = .seconds(10)
    )
        throws -> CommandOutcome
    {
        let start = ContinuousClock.now
        let child = try Spawned(executable, arguments, in: dir, name: "cmd")
        let exited = child.waitForExit(within: timeout)
        if !exited { child.stop() }
        return CommandOutcome(
            status: exited ? child.exitStatus : -1, stdout: child.stdout, stderr: child.stderr,
            elapsed: ContinuousClock.now - start, hung: !exited)
    }

    func stop() {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        var raw: Int32 = 0
        if waitpid(pid, &raw, 0) == pid { status = raw }
    }

    deinit { stop() }
}
