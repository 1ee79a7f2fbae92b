import Glibc

/// Every failure of the write-ahead log.
public enum LogError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// The log's files are damaged in a way that recovery must not paper over: a bad record
    /// followed by good ones, a missing segment, a damaged header or snapshot.
    case corrupt(file: String, offset: Int64, reason: String)
    /// The replayed state rejected the snapshot or a record.
    case replayFailed(lsn: UInt64, reason: String)
    /// The payload exceeds `LogSettings.maxRecordBytes`.
    case recordTooLarge(bytes: Int, limit: Int)
    /// A snapshot may only cover records that are already durable.
    case snapshotBeyondLog(requested: UInt64, durable: UInt64)
    /// The writer was closed, or an earlier I/O error stopped it.
    case closed

    public var description: String {
        switch self {
        case .io(let operation, let path, let errno):
            "cannot \(operation) \(path): \(String(cString: strerror(errno)))"
        case .corrupt(let file, let offset, let reason):
            "corrupt log: \(file) at offset \(offset): \(reason)"
        case .replayFailed(let lsn, let reason):
            "replay failed at lsn \(lsn): \(reason)"
        case .recordTooLarge(let bytes, let limit):
            "record of \(bytes) bytes exceeds the limit of \(limit)"
        case .snapshotBeyondLog(let requested, let durable):
            "snapshot up to lsn \(requested) but only \(durable) is durable"
        case .closed:
            "log writer is closed"
        }
    }
}
