import DSDTestSupport
import Foundation

/// A cluster with its directory running, for tests that mount: fails (never skips) without
/// root and /dev/fuse, and opens the scratch directory so other users reach the mountpoints
/// (mkdtemp makes it 0700).
func mountingCluster() throws -> Cluster {
    guard access("/dev/fuse", R_OK | W_OK) == 0, getuid() == 0 else {
        throw HarnessError("the mount tests need root and /dev/fuse (CI has both)")
    }
    let cluster = try Cluster()
    chmod(cluster.dir.path, 0o755)
    try cluster.startServer()
    return cluster
}

/// Runs a short shell command line (as root, or as `nobody` with `asNobody`), to completion.
func shell(_ script: String, asNobody: Bool = false, in dir: TempDirectory, timeout: Duration = .seconds(10)) throws
    -> CommandOutcome
{
    let arguments =
        asNobody
        ? ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c", script]
        : ["-c", script]
    let child = try ChildProcess(
        name: "sh", executable: asNobody ? "/usr/bin/setpriv" : "/bin/sh", arguments: arguments,
        logDirectory: dir.path)
    let start = ContinuousClock.now
    let exited = child.waitForExit(within: timeout)
    if !exited { child.kill() }
    return CommandOutcome(
        status: exited ? child.exitStatus : -1, stdout: child.stdout, stderr: child.stderr,
        elapsed: ContinuousClock.now - start, hung: !exited)
}

/// A long-running watcher process (`inotifywait -m`, `cat` of an events file) whose output
/// lines are collected.
final class Watcher {
    let child: ChildProcess

    init(_ executable: String, _ arguments: [String], asNobody: Bool = false, in dir: TempDirectory) throws {
        if asNobody {
            child = try ChildProcess(
                name: "watch", executable: "/usr/bin/setpriv",
                arguments: ["--reuid=65534", "--regid=65534", "--clear-groups", executable] + arguments,
                logDirectory: dir.path)
        } else {
            child = try ChildProcess(
                name: "watch", executable: executable, arguments: arguments, logDirectory: dir.path)
        }
    }

    var lines: [String] { child.stdout.split(separator: "\n").map(String.init) }

    /// Waits until some line satisfies `match`.
    func waitFor(within limit: Duration = .seconds(5), _ match: (String) -> Bool) -> Bool {
        eventually(within: limit, every: .milliseconds(2)) { lines.contains(where: match) } != nil
    }

    deinit { child.kill() }
}

/// An `inotifywait -m` on a directory, started and confirmed ready ("Watches established").
func inotifyWatcher(_ directory: String, asNobody: Bool = false, in dir: TempDirectory) throws -> Watcher {
    let watcher = try Watcher(
        "/usr/bin/inotifywait", ["-m", "--format", "%e %f", directory], asNobody: asNobody, in: dir)
    guard eventually(within: .seconds(5), { watcher.child.stderr.contains("Watches established") }) != nil else {
        throw HarnessError("inotifywait did not start: \(watcher.child.stderr)")
    }
    return watcher
}
