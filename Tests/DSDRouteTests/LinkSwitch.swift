import DSDTestSupport
import Foundation

/// A running `ip -batch -` inside one network namespace: a link change is one line written to
/// its standard input, so the instant of a cut is not blurred by starting a process.
final class LinkSwitch {
    let errorPath: String
    private let process = Process()
    private let input = Pipe()

    init(ip: String, namespace: String, logDirectory: String) throws {
        errorPath = "\(logDirectory)/ip-batch-\(namespace).err"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: ip)
        process.arguments = ["-force", "-n", namespace, "-batch", "-"]
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        try process.run()
    }

    /// Asks for `interface` to go up or down; `ip` carries it out as soon as it reads the line.
    func set(_ interface: String, up: Bool) throws {
        try command("link set \(interface) \(up ? "up" : "down")")
    }

    /// Any `ip` command line, e.g. `route add prohibit 10.77.1.1/32`.
    func command(_ line: String) throws {
        guard process.isRunning else {
            throw HarnessError("ip -batch exited: \((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")")
        }
        try input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Errors `ip` reported so far.
    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// Closes its input (ip exits at end of input); kills it if it lingers.
    func close() {
        try? input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + .seconds(2)
        while process.isRunning, ContinuousClock.now < deadline { usleep(2_000) }
        if process.isRunning {
            _ = kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { close() }
}
