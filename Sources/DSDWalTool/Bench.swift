import DSDLog
import Foundation
import Glibc
import Logging
import Synchronization

/// One measured row of the benchmark table.
struct BenchRow {
    var name: String
    var appends: Int
    var seconds: Double
    /// Group commits (write + fdatasync rounds) the appends took.
    var syncs: Int = 0
    mutating func add(_ other: BenchRow) {
        appends += other.appends
        seconds += other.seconds
    }

    var perSecond: Double { Double(appends) / seconds }
    var microseconds: Double { seconds * 1e6 / Double(appends) }
}

func bench(directory: String?, payloadBytes: Int, seconds: Double) async {
    let root: String
    if let directory {
        root = directory
        if mkdir(root, 0o755) != 0 && errno != EEXIST { fail("bench: cannot create \(root)", code: 1) }
    } else {
        var template = Array(
            (URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("dsd-wal-bench-XXXXXX").path)
                .utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fail("bench: mkdtemp failed", code: 1)
        }
        root = String(cString: made)
    }
    let settings = LogSettings.default
    let payload = [UInt8](repeating: 0x5A, count: payloadBytes)
    let quiet = Logger(label: "dsd-wal-bench", factory: { _ in SwiftLogNoOpLogHandler() })
    writeAll(1, "dsd-wal-tool bench: \(root), payload \(payloadBytes) B, ~\(seconds) s per row\n")
    writeAll(1, "crc32c (slicing-by-8): \(format(crcGigabytesPerSecond(), 2)) GB/s\n")

    do {
        let raw = try RawFile(path: root + "/raw.bench", fileBytes: settings.segmentBytes)
        defer { raw.close() }
        let record = [UInt8](repeating: 0x5A, count: payloadBytes + LogRecord.headerSize)
        func open(_ name: String) throws -> LogWriter {
            try WriteAheadLog.open(
                directory: root + "/" + name, settings: settings, logger: quiet, as: NoState.self
            ).writer
        }
        // The disk's sync latency drifts while other work runs: the sequential rows are
        // measured in interleaved rounds so they see the same conditions as the raw loop.
        let sync = try open("sequential-sync")
        let async = try open("sequential-async")
        var rawRow = BenchRow(name: "raw pwrite+fdatasync", appends: 0, seconds: 0)
        var syncRow = BenchRow(name: "sequential appendSync", appends: 0, seconds: 0)
        var asyncRow = BenchRow(name: "sequential async append", appends: 0, seconds: 0)
        let rounds = 10
        let slice = seconds / Double(rounds)
        for _ in 0..<rounds {
            rawRow.add(
                try timed(rawRow.name, seconds: slice) {
                    raw.append(record)
                    return 1
                })
            syncRow.add(
                try timed(syncRow.name, seconds: slice) {
                    _ = try sync.appendSync(payload)
                    return 1
                })
            asyncRow.add(
                try await timedAsync(asyncRow.name, seconds: slice, writers: 1) {
                    _ = try await async.append(payload)
                })
        }
        syncRow.syncs = Int(sync.commits)
        asyncRow.syncs = Int(async.commits)
        sync.close()
        async.close()

        let threads = try open("threads")
        var threadsRow = try threaded("16 threads appendSync", seconds: seconds, threads: 16) {
            _ = try threads.appendSync(payload)
        }
        threadsRow.syncs = Int(threads.commits)
        threads.close()
        let tasks = try open("tasks")
        var tasksRow = try await timedAsync("16 tasks async append", seconds: seconds, writers: 16) {
            _ = try await tasks.append(payload)
        }
        tasksRow.syncs = Int(tasks.commits)
        tasks.close()
        let rawAgain = try timed("raw pwrite+fdatasync again", seconds: seconds / 2) {
            raw.append(record)
            return 1
        }

        var table =
            "\n" + pad("measurement", 28) + pad("appends", 9) + pad("appends/s", 11) + pad("µs each", 9)
        table += pad("per sync", 10) + "vs raw\n"
        table += String(repeating: "-", count: 90) + "\n"
        for row in [rawRow, syncRow, asyncRow, threadsRow, tasksRow, rawAgain] {
            let perSync = row.syncs > 0 ? format(Double(row.appends) / Double(row.syncs), 1) : "1.0"
            let comparison: String
            if row.name.hasPrefix("16") {
                comparison = format(rawRow.microseconds / row.microseconds, 2) + "× the raw rate"
            } else if row.name.hasPrefix("sequential") {
                comparison = format(row.microseconds / rawRow.microseconds, 2) + "× the raw time"
            } else {
                comparison = ""
            }
            table += pad(row.name, 28) + pad("\(row.appends)", 9) + pad(format(row.perSecond, 0), 11)
            table += pad(format(row.microseconds, 1), 9) + pad(perSync, 10) + comparison + "\n"
        }
        writeAll(1, table)
        // A directory the bench made itself holds only its own segments: remove them.
        if directory == nil { try? FileManager.default.removeItem(atPath: root) }
    } catch {
        fail("bench: \(error)", code: 1)
    }
}

/// Checksum throughput over a 1 MiB buffer.
func crcGigabytesPerSecond() -> Double {
    let buffer = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    var sink: UInt32 = 0
    let row = try? timed("crc32c", seconds: 0.3) {
        sink ^= CRC32C.checksum(buffer)
        return 1
    }
    guard let row, sink != 1 else { return 0 }
    return row.perSecond * Double(buffer.count) / 1e9
}

struct NoState: LogReplayable {
    init(snapshot: [UInt8]?) {}
    mutating func replay(lsn: UInt64, type: UInt8, payload: [UInt8]) {}
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

func format(_ value: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", value)
}

/// The baseline: one pwrite of a record-sized buffer and one fdatasync per append, at
/// increasing offsets of a zero-filled file of a segment's size (what the log does, minus the
/// log).
final class RawFile {
    let fd: Int32
    let path: String
    let fileBytes: Int
    var offset = 0

    init(path: String, fileBytes: Int) throws {
        self.path = path
        self.fileBytes = fileBytes
        fd = Glibc.open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { fail("bench: open \(path) failed", code: 1) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var filled = 0
        while filled < fileBytes {
            let n = zeros.withUnsafeBytes {
                pwrite(fd, $0.baseAddress!, min($0.count, fileBytes - filled), off_t(filled))
            }
            guard n > 0 else { fail("bench: zero-filling \(path) failed", code: 1) }
            filled += n
        }
        fsync(fd)
    }

    func append(_ record: [UInt8]) {
        if offset + record.count > fileBytes { offset = 0 }
        let written = record.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, off_t(offset)) }
        if written != record.count || fdatasync(fd) != 0 { fail("bench: raw write failed", code: 1) }
        offset += record.count
    }

    func close() {
        _ = Glibc.close(fd)
        unlink(path)
    }
}

func timed(_ name: String, seconds: Double, _ body: () throws -> Int) throws -> BenchRow {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + .milliseconds(Int(seconds * 1000))
    var count = 0
    while clock.now < deadline { count += try body() }
    return BenchRow(name: name, appends: count, seconds: elapsed(since: start, clock))
}

func elapsed(since start: ContinuousClock.Instant, _ clock: ContinuousClock) -> Double {
    let d = clock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func timedAsync(
    _ name: String, seconds: Double, writers: Int, _ body: @escaping @Sendable () async throws -> Void
) async throws -> BenchRow {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + .milliseconds(Int(seconds * 1000))
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<writers {
            group.addTask {
                var count = 0
                while clock.now < deadline {
                    try await body()
                    count += 1
                }
                return count
            }
        }
        return try await group.reduce(0, +)
    }
    return BenchRow(name: name, appends: total, seconds: elapsed(since: start, clock))
}

func threaded(
    _ name: String, seconds: Double, threads: Int, _ body: @escaping @Sendable () throws -> Void
) throws -> BenchRow {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + .milliseconds(Int(seconds * 1000))
    let group = DispatchGroup()
    let counts = Mutex<(Int, (any Error)?)>((0, nil))
    for _ in 0..<threads {
        group.enter()
        Thread.detachNewThread {
            var count = 0
            var failure: (any Error)?
            while clock.now < deadline {
                do { try body() } catch {
                    failure = error
                    break
                }
                count += 1
            }
            counts.withLock {
                $0.0 += count
                if let failure { $0.1 = failure }
            }
            group.leave()
        }
    }
    group.wait()
    let (total, failure) = counts.withLock { $0 }
    if let failure { throw failure }
    return BenchRow(name: name, appends: total, seconds: elapsed(since: start, clock))
}
