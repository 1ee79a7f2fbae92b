import DSDLog
import Foundation
import Logging
import Synchronization

/// Replayed state for tests: the snapshot bytes and every replayed record.
struct RecordedState: LogReplayable {
    var snapshot: [UInt8]?
    var records: [LogRecord] = []

    init(snapshot: [UInt8]?) { self.snapshot = snapshot }

    mutating func replay(lsn: UInt64, type: UInt8, payload: [UInt8]) {
        records.append(LogRecord(lsn: lsn, type: type, payload: payload))
    }
}

/// Log lines captured by `CapturingLogHandler`.
final class LogCapture: Sendable {
    struct Line: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let lines = Mutex<[Line]>([])

    var all: [Line] { lines.withLock { $0 } }
    var warnings: [Line] { all.filter { $0.level == .warning } }

    func add(_ line: Line) { lines.withLock { $0.append(line) } }

    var logger: Logger {
        Logger(label: "dsd.log.test") { _ in CapturingLogHandler(capture: self) }
    }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        capture.add(
            .init(
                level: event.level, message: "\(event.message)",
                metadata: merged.mapValues { "\($0)" }))
    }
}

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TempDirectory {
    let path: String

    init() {
        let base = NSTemporaryDirectory() + "dsd-log-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    var log: String { path + "/log" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func files() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: log)) ?? []).sorted()
    }

    func segments() -> [String] { files().filter { $0.hasSuffix(".wal") } }
}

func payload(_ n: Int, bytes: Int = 40) -> [UInt8] {
    (0..<bytes).map { UInt8(truncatingIfNeeded: n &* 31 &+ $0) }
}

func openLog(
    _ dir: TempDirectory, settings: LogSettings = .testing,
    logger: Logger = Logger(label: "dsd.log.test") { _ in SwiftLogNoOpLogHandler() }
) throws(LogError) -> (state: RecordedState, writer: LogWriter) {
    try WriteAheadLog.open(
        directory: dir.log, settings: settings, logger: logger, as: RecordedState.self)
}

/// Reads a file's bytes.
func readFile(_ path: String) -> [UInt8] {
    Array(FileManager.default.contents(atPath: path) ?? Data())
}

/// Overwrites a file's bytes.
func writeFile(_ path: String, _ bytes: [UInt8]) {
    let written = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    precondition(written, "cannot write \(path)")
}
