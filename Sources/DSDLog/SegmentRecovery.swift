import Glibc
import Logging

/// Reads one segment on open: validates its header, hands each record to the replay closure,
/// and decides at the first record that does not decode whether it is a torn tail (repair) or
/// corruption (refuse).
struct SegmentRecovery {
    let path: String
    let base: UInt64
    let expectedLSN: UInt64
    let isLast: Bool
    /// Records up to this LSN are covered by the snapshot and not replayed.
    let skipThrough: UInt64

    /// How far ahead of the expected LSN a record found after a bad one may be and still count
    /// as proof that the bad one is not the tail.
    static let lookahead: UInt64 = 1 << 20

    struct End {
        var nextLSN: UInt64
        var offset: Int64
    }

    func run(
        bytes: [UInt8], logger: Logger, replay: (UInt64, UInt8, [UInt8]) throws(LogError) -> Void
    ) throws(LogError) -> End {
        let header = LogFiles.segmentHeader(base: base)
        guard bytes.count >= header.count, Array(bytes[0..<header.count]) == header else {
            throw .corrupt(file: path, offset: 0, reason: "bad segment header")
        }
        if base != expectedLSN {
            throw .corrupt(
                file: path, offset: 0,
                reason: "segment starts at lsn \(base) but lsn \(expectedLSN) is next")
        }
        var lsn = expectedLSN
        var offset = header.count
        var damage: String?
        while true {
            let decoded = LogRecord.decode(bytes, at: offset, expectedLSN: lsn)
            if case .record(let record, let end) = decoded {
                if record.lsn > skipThrough { try replay(record.lsn, record.type, record.payload) }
                lsn += 1
                offset = end
                continue
            }
            switch decoded {
            case .record: break
            case .endOfLog:
                if bytes[offset...].contains(where: { $0 != 0 }) {
                    damage = "data after the end-of-log marker"
                }
            case .incomplete(let reason), .invalid(let reason):
                damage = reason
            }
            break
        }
        guard let damage else { return End(nextLSN: lsn, offset: Int64(offset)) }

        let laterRecord = bytes.withUnsafeBytes {
            LogRecord.findValidRecord($0, from: offset + 1, lsns: lsn...(lsn + Self.lookahead))
        }
        if let laterRecord {
            throw .corrupt(
                file: path, offset: Int64(offset),
                reason: "\(damage); a valid record follows at offset \(laterRecord)")
        }
        if !isLast {
            throw .corrupt(file: path, offset: Int64(offset), reason: "\(damage) in a sealed segment")
        }
        logger.warning(
            "truncating torn record at the log tail",
            metadata: ["log.file": "\(path)", "log.offset": "\(offset)", "log.reason": "\(damage)"])
        try zeroTail(from: Int64(offset), fileSize: Int64(bytes.count))
        return End(nextLSN: lsn, offset: Int64(offset))
    }

    /// Overwrites the torn bytes with zeros and syncs, so the next append starts clean.
    private func zeroTail(from offset: Int64, fileSize: Int64) throws(LogError) {
        let fd = try Posix.open(path, O_RDWR)
        defer { Posix.close(fd) }
        try Posix.ftruncate(fd, offset, path: path)
        try Posix.zeroFill(fd, from: offset, count: fileSize - offset, path: path)
        try Posix.fsync(fd, path: path)
    }
}
