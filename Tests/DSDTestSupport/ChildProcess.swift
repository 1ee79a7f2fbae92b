import Foundation

/// A failure of the test harness itself (a binary missing, a process that would not start).
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A per-test scratch directory under /tmp, removed when released. Short paths, because Unix
/// socket paths are limited to 107 bytes.
public final class TempDirectory {
    public let path: String

    /// Where test directories are made unless a suite names its own prefix.
    public static let defaultPrefix = "/tmp/dsd-it-"

    public init(prefix: String = TempDirectory.defaultPrefix) throws {
        var template = Array((prefix + "XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw HarnessError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The `dsd` executable built next to the test bundle, in the build products directory.
public enum DSDBinary {
    public static func path() throws -> String {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while dir.path.contains(".xctest") { dir = dir.deletingLastPathComponent() }
        let path = dir.appendingPathComponent("dsd").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("the dsd executable is not built next to the tests (looked for \(path))")
        }
        return path
    }
}

/// One child process whose standard output and error go to files. Killed with SIGKILL and
/// reaped by `kill()` or on release, so a failing test leaves nothing running.
public final class ChildProcess {
    public let name: String
    public let arguments: [String]
    public let stdoutPath: String
    public let stderrPath: String
    private let process = Process()

    public init(name: String, executable: String, arguments: [String], logDirectory: String) throws {
        self.name = name
        self.arguments = arguments
        let stamp = UUID().uuidString.prefix(8)
        stdoutPath = "\(logDirectory)/\(name)-\(stamp).out"
        stderrPath = "\(logDirectory)/\(name)-\(stamp).err"
        guard FileManager.default.createFile(atPath: stdoutPath, contents: nil),
            FileManager.default.createFile(atPath: stderrPath, contents: nil)
        else { throw HarnessError("cannot create the logs of \(name) in \(logDirectory)") }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) {
        if process.isRunning { _ = Foundation.kill(process.processIdentifier, signal) }
    }

    /// SIGKILL (after SIGCONT, in case it is stopped) and wait until it is gone.
    public func kill() {
        guard process.isRunning else { return }
        _ = Foundation.kill(process.processIdentifier, SIGCONT)
        _ = Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM (a graceful shutdown: an agent unmounts), then SIGKILL after `grace`.
    public func stop(grace: Duration = .seconds(3)) {
        guard process.isRunning else { return }
        signal(SIGTERM)
        if !waitForExit(within: grace) { kill() }
    }

    /// Waits up to `timeout` for the process to exit; true if it did.
    public func waitForExit(within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { return false }
            usleep(5_000)
        }
        return true
    }

    /// The exit status, or -1 while the process still runs (Foundation traps on reading it
    /// then, which would end the whole test run instead of failing one expectation).
    public var exitStatus: Int32 { process.isRunning ? -1 : process.terminationStatus }

    deinit { kill() }
}

/// What one short-lived `dsd` command did.
public struct CommandOutcome: CustomStringConvertible {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var elapsed: Duration
    /// The command was still running at its deadline and was killed.
    public var hung: Bool

    public init(status: Int32, stdout: String, stderr: String, elapsed: Duration, hung: Bool) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.hung = hung
    }

    public var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    public var description: String {
        "exit \(status)\(hung ? " (hung, killed)" : "") in \(elapsed): \(stdout)\(stderr)"
    }
}

/// Runs `dsd` with `arguments` to completion (or kills it at `timeout`).
public func runDSD(_ arguments: [String], in directory: TempDirectory, timeout: Duration = .seconds(15)) throws
    -> CommandOutcome
{
    try run(try DSDBinary.path(), arguments, in: directory, timeout: timeout)
}

/// Runs `executable` with `arguments` to completion (or kills it at `timeout`).
public func run(
    _ executable: String, _ arguments: [String], in directory: TempDirectory, timeout: Duration = .seconds(15)
)
    throws -> CommandOutcome
{
    let start = ContinuousClock.now
    let child = try ChildProcess(
        name: "cmd", executable: executable, arguments: arguments, logDirectory: directory.path)
    let exited = child.waitForExit(within: timeout)
    if !exited { child.kill() }
    let outcome = CommandOutcome(
        status: exited ? child.exitStatus : -1, stdout: child.stdout, stderr: child.stderr,
        elapsed: ContinuousClock.now - start, hung: !exited)
    try? FileManager.default.removeItem(atPath: child.stdoutPath)
    try? FileManager.default.removeItem(atPath: child.stderrPath)
    return outcome
}

/// Writes `contents` to `path` readable by its owner only (mode 0600), as a key file must be.
public func writePrivateFile(_ path: String, contents: String) throws {
    guard
        FileManager.default.createFile(
            atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600])
    else { throw HarnessError("cannot write \(path)") }
    guard chmod(path, 0o600) == 0 else { throw HarnessError("cannot chmod \(path)") }
}

/// System tools the tests run, by absolute path (no environment lookups).
public enum SystemTool {
    public static func path(_ name: String) throws -> String {
        for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw HarnessError("\(name) is not installed")
    }
}

/// The whole contents of a file read the way `cat` reads it (open, read to EOF, close); nil
/// on any error.
public func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 { return nil }
        if count == 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Polls `condition` every `interval` until it holds or `limit` passes; returns how long it took,
/// or nil if it never held.
public func eventually(within limit: Duration, every interval: Duration = .milliseconds(2), _ condition: () -> Bool)
    -> Duration?
{
    let start = ContinuousClock.now
    while true {
        if condition() { return ContinuousClock.now - start }
        if ContinuousClock.now - start > limit { return nil }
        let micros = interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000
        usleep(UInt32(micros))
    }
}

/// Resident set size of a process in KiB, from /proc/PID/status.
public func residentKiB(of pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
    }
    return nil
}

/// Number of open file descriptors of a process.
public func openDescriptors(of pid: Int32) -> Int? {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
}

/// A loopback port nobody listens on right now: bind port 0, read it, close.
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw HarnessError("bind: \(String(cString: strerror(errno)))") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

public func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}
