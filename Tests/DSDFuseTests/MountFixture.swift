import DSDCore
import Foundation
import Glibc
import Logging
import Testing

@testable import DSDFuse

/// A real mount of an `InMemoryBackend` in a fresh temporary directory. `withMount` always
/// unmounts (and lazily detaches as a last resort), whatever the test body does.
struct MountFixture {
    let backend: InMemoryBackend
    let mount: FuseMount
    let root: String

    func path(_ relative: String) -> String { root + "/" + relative }

    struct RunResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a real process and waits for it.
    @discardableResult
    func run(_ executable: String, _ arguments: [String]) throws -> RunResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return RunResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// bash, whose builtins print strerror (dash prints "I/O error" for every failed write).
    func sh(_ script: String) throws -> RunResult { try run("/bin/bash", ["-c", script]) }

    /// Reads a file in this process (open + read + close), or returns the errno.
    func read(_ relative: String) -> Result<String, Errno> {
        let fd = open(path(relative), O_RDONLY)
        guard fd >= 0 else { return .failure(Errno(errno)) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = Glibc.read(fd, &buffer, buffer.count)
        guard count >= 0 else { return .failure(Errno(errno)) }
        return .success(String(decoding: buffer[0..<count], as: UTF8.self))
    }
}

enum FixtureError: Error { case noFuseDevice, noTempDir }

let sampleTables: [String: [Entry]] = [
    "DSD_MTID_METADATA": [
        Entry(key: "MDS.1", value: "16.7.13.1:1872"), Entry(key: "MDS.1.0", value: "HOST9:1872"),
        Entry(key: "MDS.2", value: "10.7.6.4:1872", valid: false),
    ],
    "DSD_MTID_METADATA_PART": [Entry(key: "0", value: "MDS.1"), Entry(key: "1", value: "MDS.2")],
    "DSD_HOST_ROUTE": [Entry(key: "HOST9.0", value: "16.7.13.1")],
]

func withMount(
    tables: [String: [Entry]] = sampleTables, settings adjust: (inout FuseSettings) -> Void = { _ in },
    _ body: (MountFixture) throws -> Void
) throws {
    // Fail loudly: a machine without FUSE must not pass these tests by skipping them.
    guard access("/dev/fuse", R_OK | W_OK) == 0 else {
        Issue.record("/dev/fuse is missing: the mount tests need FUSE")
        throw FixtureError.noFuseDevice
    }
    var template = Array("/tmp/dsd-fuse-test-XXXXXX".utf8CString)
    guard let dir = mkdtemp(&template) else { throw FixtureError.noTempDir }
    let root = String(cString: dir)
    chmod(root, 0o755)
    var settings = FuseSettings.testing(mountpoint: root)
    adjust(&settings)
    let backend = InMemoryBackend(tables: tables)
    let mount = FuseMount(backend: backend, settings: settings, logger: Logger(label: "dsd.fuse.test"))
    defer {
        backend.attach(nil)
        mount.unmount()
        if rmdir(root) != 0 {
            _ = umount2(root, Int32(MNT_DETACH))
            rmdir(root)
        }
    }
    try mount.start()
    backend.attach(mount)
    try body(MountFixture(backend: backend, mount: mount, root: root))
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(1_000)
    }
    return condition()
}
