/// DSDLog: dsd's durable write-ahead log (format: Docs/wal-format.md).
///
/// The log stores opaque byte records, each with a type byte and a monotonically increasing
/// LSN, in segment files of checksummed records (length, CRC32C, LSN, type, payload).
///
/// - Opening replays: the newest snapshot initialises the state, then every record after it
///   is replayed in LSN order. Only then is a `LogWriter` returned, so nothing can append
///   before replay finished.
/// - Recovery: a damaged record at the very end of the newest segment with no valid record
///   after it is a write that a crash interrupted: it is zeroed out and logged. Anything else
///   (a bad record followed by good ones, a gap between segments, a damaged snapshot) refuses
///   to open with `LogError.corrupt(file:offset:reason:)`.
/// - Appends are acknowledged only after `fdatasync`; concurrent appends share one write and
///   one sync (group commit, see `LogCommitter`).
/// - Segments are zero-filled to their full size when created, so a zero length field marks
///   the end of the log and appends never change a file's size.
/// - New files (segments, snapshots) appear atomically: temp file, fsync, rename, directory
///   fsync. A snapshot lets the segments it covers be deleted.
import Glibc
import Logging

/// State rebuilt from the log on open.
public protocol LogReplayable {
    /// The state given the newest snapshot's bytes, or nil for an empty log.
    init(snapshot: [UInt8]?) throws
    /// Applies one record written after the snapshot.
    mutating func replay(lsn: UInt64, type: UInt8, payload: [UInt8]) throws
}

/// Opens write-ahead logs.
public enum WriteAheadLog {
    /// Opens (creating if needed) the log in `directory`: recovers the files, replays the
    /// snapshot and records into a new `S`, and returns it with the writer.
    public static func open<S: LogReplayable>(
        directory: String, settings: LogSettings, logger: Logger, as: S.Type = S.self
    ) throws(LogError) -> (state: S, writer: LogWriter) {
        try Posix.ensureDirectory(directory)
        let names = try Posix.list(directory)
        for name in names where name.hasSuffix(".tmp") {
            try Posix.unlink(directory + "/" + name)
        }

        // Snapshot.
        let snapshots = names.compactMap(LogFiles.snapshotLSN).sorted()
        var snapshotLSN: UInt64 = 0
        var snapshot: [UInt8]?
        if let newest = snapshots.last {
            let path = directory + "/" + LogFiles.snapshotName(lsn: newest)
            snapshot = try LogFiles.snapshotPayload(try Posix.readAll(path), lsn: newest, path: path)
            snapshotLSN = newest
            for older in snapshots.dropLast() {
                try Posix.unlink(directory + "/" + LogFiles.snapshotName(lsn: older))
            }
        }
        var state: S
        do {
            state = try S(snapshot: snapshot)
        } catch {
            throw .replayFailed(lsn: snapshotLSN, reason: "snapshot: \(error)")
        }

        // Segments: finish an interrupted compaction, then check the first one connects.
        var bases = names.compactMap(LogFiles.segmentBase).sorted()
        var removedCovered = false
        while bases.count >= 2 && bases[1] <= snapshotLSN + 1 {
            try Posix.unlink(directory + "/" + LogFiles.segmentName(base: bases.removeFirst()))
            removedCovered = true
        }
        if removedCovered || snapshots.count > 1 { try Posix.fsyncDirectory(directory) }
        if let first = bases.first, first > snapshotLSN + 1 {
            throw .corrupt(
                file: directory + "/" + LogFiles.segmentName(base: first), offset: 0,
                reason: "records \(snapshotLSN + 1) to \(first - 1) are missing")
        }
        if bases.isEmpty {
            let base = snapshotLSN + 1
            let header = LogFiles.segmentHeader(base: base)
            try header.withRawBytes { (raw) throws(LogError) in
                try Posix.createDurably(
                    directory: directory, name: LogFiles.segmentName(base: base), contents: raw,
                    zeroFillTo: settings.preallocate ? Int64(settings.segmentBytes) : 0, keepOpen: false)
            }
            bases = [base]
        }

        // Replay.
        var expected = bases[0]
        var tail = (path: "", offset: Int64(0))
        for (index, base) in bases.enumerated() {
            let path = directory + "/" + LogFiles.segmentName(base: base)
            let recovery = SegmentRecovery(
                path: path, base: base, expectedLSN: expected, isLast: index == bases.count - 1,
                skipThrough: snapshotLSN)
            let end = try recovery.run(bytes: try Posix.readAll(path), logger: logger) {
                (lsn, type, payload) throws(LogError) in
                do {
                    try state.replay(lsn: lsn, type: type, payload: payload)
                } catch {
                    throw .replayFailed(lsn: lsn, reason: "\(error)")
                }
            }
            expected = end.nextLSN
            tail = (path, end.offset)
        }
        if expected <= snapshotLSN {
            throw .corrupt(
                file: tail.path, offset: tail.offset,
                reason: "log ends at lsn \(expected - 1) before the snapshot's lsn \(snapshotLSN)")
        }

        // Writer on the newest segment, its tail zero-filled to the full size.
        let fd = try Posix.open(tail.path, O_RDWR)
        do {
            let size = try Posix.fileSize(fd, path: tail.path)
            let target = settings.preallocate ? Int64(settings.segmentBytes) : tail.offset
            if size < target {
                try Posix.zeroFill(fd, from: size, count: target - size, path: tail.path)
                try Posix.fsync(fd, path: tail.path)
            }
        } catch {
            Posix.close(fd)
            throw error
        }
        let committer = LogCommitter(
            directory: directory, settings: settings, logger: logger,
            segments: .init(fd: fd, path: tail.path, offset: tail.offset, bases: bases), nextLSN: expected
        )
        logger.debug(
            "log opened",
            metadata: [
                "log.directory": "\(directory)", "log.next_lsn": "\(expected)",
                "log.snapshot.lsn": "\(snapshotLSN)",
            ])
        return (state, try LogWriter(committer: committer))
    }
}
