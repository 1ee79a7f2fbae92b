import Foundation
import Synchronization

/// Why a benchmark could not run.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One child process (`dsd server`, `dsd agent`) with its output going to a log file.
final class ChildProcess: Sendable {
    let name: String
    let logPath: String
    private let process: Process

    fileprivate init(name: String, executable: String, arguments: [String], logPath: String) throws {
        self.name = name
        self.logPath = logPath
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        guard let log = FileHandle(forWritingAtPath: logPath) else { throw BenchError("cannot open \(logPath)") }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    func stop(grace: Duration = .seconds(3)) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGKILL, and wait until it is gone.
    func killNow() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The tail of the process's log, for error messages.
    /// Waits until the process exits; false if it still runs after `timeout`.
    func waitForExit(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return false }
            usleep(10_000)
        }
        return true
    }

    /// The exit status once exited, -1 while running.
    var exitStatus: Int32 { process.isRunning ? -1 : process.terminationStatus }

    func logTail(lines: Int = 10) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

/// Every child process the benchmark started, so that all of them are stopped on every exit
/// path (normal end, error, SIGINT/SIGTERM).
final class ChildProcesses: Sendable {
    private let children = Mutex<[ChildProcess]>([])

    func spawn(
        name: String, executable: String, arguments: [String], logPath: String
    ) throws -> ChildProcess {
        let child = try ChildProcess(
            name: name, executable: executable, arguments: arguments, logPath: logPath)
        children.withLock { $0.append(child) }
        return child
    }

    func stop(_ child: ChildProcess) {
        child.stop()
        children.withLock { $0.removeAll { $0 === child } }
    }

    func stopAll() {
        let all = children.withLock { list in
            defer { list = [] }; return list
        }
        // Signal every child first so they shut down in parallel, then reap them.
        for child in all where child.isRunning { kill(child.pid, SIGTERM) }
        for child in all { child.stop() }
    }
}

/// Stops every child process and removes the scratch directory on SIGINT or SIGTERM, then
/// exits, so that an interrupted run leaves nothing behind. Keep the returned sources alive.
func stopOnSignals(_ children: ChildProcesses, scratch: Scratch) -> [any DispatchSourceSignal] {
    [SIGINT, SIGTERM].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { @Sendable in
            children.stopAll()
            scratch.remove()
            exit(128 + number)
        }
        source.resume()
        return source
    }
}

/// A private directory under /tmp (short, so Unix socket paths stay under 108 bytes).
final class Scratch: Sendable {
    let path: String

    /// - Parameter parent: `/tmp`, or `/dev/shm` for files whose fsync should cost nothing.
    init(parent: String = "/tmp") throws {
        var template = Array("\(parent)/dsd-bench.XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    init(path: String) {
        self.path = path
    }

    func file(_ name: String) -> String { path + "/" + name }

    func directory(_ name: String) throws -> String {
        let full = file(name)
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Where the `dsd` executable is: next to this one.
func locateDSD() throws -> String {
    let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let candidate = (own as NSString).deletingLastPathComponent + "/dsd"
    guard FileManager.default.isExecutableFile(atPath: candidate) else {
        throw BenchError("\(candidate) not found: build the whole package (swift build -c release)")
    }
    return candidate
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
        }
    }
    guard bound else { throw BenchError("bind: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
func waitForListener(port: Int, timeout: Duration, child: ChildProcess) throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        guard child.isRunning else { throw BenchError("\(child.name) exited:\n\(child.logTail())") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        close(fd)
        if connected { return }
        usleep(20_000)
    }
    throw BenchError("\(child.name) did not listen on port \(port) within \(timeout):\n\(child.logTail())")
}

/// Runs async work from synchronous benchmark code and waits for it. The benchmark's own
/// thread is never part of the concurrency pool, so blocking it is safe.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = Outcome<T>()
    Task {
        do { outcome.finish(.success(try await body())) } catch { outcome.finish(.failure(error)) }
    }
    return try outcome.wait().get()
}

private final class Outcome<T: Sendable>: Sendable {
    private let result = Mutex<Result<T, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    func finish(_ value: Result<T, any Error>) {
        result.withLock { $0 = value }
        done.signal()
    }

    func wait() -> Result<T, any Error> {
        done.wait()
        return result.withLock { $0! }
    }
}
