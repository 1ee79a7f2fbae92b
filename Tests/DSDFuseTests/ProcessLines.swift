import Foundation
import Glibc
import Synchronization

/// A long-running process (inotifywait -m, cat of an events file) whose output lines are
/// collected as they arrive. Spawned with posix_spawn and an empty signal mask: children of
/// Foundation's `Process` inherit the test runner's blocked signals and ignore SIGINT/SIGTERM.
final class ProcessLines: Sendable {
    let pid: pid_t
    private let out: FileHandle
    private let err: FileHandle
    private final class Collected: Sendable {
        let state = Mutex<(out: String, err: String, exit: Int32?)>(("", "", nil))
        func withLock<R>(_ body: (inout (out: String, err: String, exit: Int32?)) -> R) -> R {
            state.withLock { body(&$0) }
        }
    }

    private let collected = Collected()

    init(_ executable: String, _ arguments: [String]) throws {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw POSIXError(.EMFILE) }
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attr, argv, environ)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL)
        }
        pid = child
        out = FileHandle(fileDescriptor: outPipe[0], closeOnDealloc: true)
        err = FileHandle(fileDescriptor: errPipe[0], closeOnDealloc: true)
        out.readabilityHandler = { [collected] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            collected.withLock { $0.out += String(decoding: data, as: UTF8.self) }
        }
        err.readabilityHandler = { [collected] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            collected.withLock { $0.err += String(decoding: data, as: UTF8.self) }
        }
    }

    var output: String { collected.withLock { $0.out } }
    var lines: [String] { output.split(separator: "\n").map(String.init) }
    var stderr: String { collected.withLock { $0.err } }

    func waitForStderr(_ text: String, timeout: Duration = .seconds(5)) -> Bool {
        eventually(timeout: timeout) { stderr.contains(text) }
    }

    func waitForLines(_ count: Int, timeout: Duration = .seconds(5)) -> Bool {
        eventually(timeout: timeout) { lines.count >= count }
    }

    /// Whether the process ended within `timeout` (reaps it).
    func waitForExit(timeout: Duration) -> Bool {
        eventually(timeout: timeout) { reap(WNOHANG) }
    }

    @discardableResult
    private func reap(_ options: Int32) -> Bool {
        if collected.withLock({ $0.exit != nil }) { return true }
        var status: Int32 = 0
        guard waitpid(pid, &status, options) == pid else { return false }
        collected.withLock { $0.exit = status }
        return true
    }

    /// Ends the process and waits for it.
    func stop(signal: Int32 = SIGKILL) {
        if !reap(WNOHANG) {
            kill(pid, signal)
            reap(0)
        }
        out.readabilityHandler = nil
        err.readabilityHandler = nil
    }

    deinit { stop() }
}
