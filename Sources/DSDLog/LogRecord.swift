/// One record of the log and its byte layout (see Docs/wal-format.md):
///
///     0        4        8                16     17
///     +--------+--------+----------------+------+-------------------+
///     | length | crc32c |      lsn       | type | payload ...       |
///     +--------+--------+----------------+------+-------------------+
///
/// All integers little-endian. `length` counts the whole record (header included), so it is
/// never zero for a record: a zero length marks the end of the log (preallocated tail).
/// `crc32c` covers bytes 8 ..< length (lsn, type, payload).
public struct LogRecord: Equatable, Sendable {
    public var lsn: UInt64
    public var type: UInt8
    public var payload: [UInt8]

    public init(lsn: UInt64, type: UInt8, payload: [UInt8]) {
        self.lsn = lsn
        self.type = type
        self.payload = payload
    }

    /// Bytes before the payload.
    public static let headerSize = 17

    /// Appends the encoded record to `buffer`.
    public static func encode(
        lsn: UInt64, type: UInt8, payload: some Collection<UInt8>, into buffer: inout [UInt8]
    ) {
        let start = buffer.count
        let length = UInt32(headerSize + payload.count)
        buffer.appendLittleEndian(length)
        buffer.appendLittleEndian(UInt32(0))
        buffer.appendLittleEndian(lsn)
        buffer.append(type)
        buffer.append(contentsOf: payload)
        let crc = buffer.withUnsafeBytes { all in
            CRC32C.update(0, UnsafeRawBufferPointer(rebasing: all[(start + 8)...]))
        }
        buffer.withUnsafeMutableBytes { all in
            all.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
        }
    }

    /// The encoded form of this record.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        Self.encode(lsn: lsn, type: type, payload: payload, into: &out)
        return out
    }

    /// What lies at one offset of a segment.
    public enum Decoded: Equatable, Sendable {
        /// A valid record with the expected LSN; the next record starts at `end`.
        case record(LogRecord, end: Int)
        /// A zero length field or nothing left: the end of the written log.
        case endOfLog
        /// The record runs past the end of the data (a write that did not complete).
        case incomplete(reason: String)
        /// The bytes are not the expected record (checksum, length or LSN wrong).
        case invalid(reason: String)
    }

    /// Decodes the record at `offset`, which must carry `expectedLSN`.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, at offset: Int, expectedLSN: UInt64
    ) -> Decoded {
        let remaining = bytes.count - offset
        if remaining <= 0 { return .endOfLog }
        if remaining < 4 {
            let tail = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            return tail.allSatisfy { $0 == 0 } ? .endOfLog : .incomplete(reason: "truncated length field")
        }
        let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
        if length == 0 { return .endOfLog }
        if length < headerSize { return .invalid(reason: "length \(length) shorter than a header") }
        if length > remaining {
            return .incomplete(reason: "record of \(length) bytes but only \(remaining) remain")
        }
        let stored = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian
        let computed = CRC32C.update(
            0, UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<(offset + length)]))
        if stored != computed { return .invalid(reason: "checksum mismatch") }
        let lsn = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self).littleEndian
        if lsn != expectedLSN {
            return .invalid(reason: "lsn \(lsn) where \(expectedLSN) was expected")
        }
        let type = bytes[offset + 16]
        let payload = Array(bytes[(offset + headerSize)..<(offset + length)])
        return .record(LogRecord(lsn: lsn, type: type, payload: payload), end: offset + length)
    }

    /// Decodes from an array (convenience for tests and tools).
    public static func decode(_ bytes: [UInt8], at offset: Int, expectedLSN: UInt64) -> Decoded {
        bytes.withUnsafeBytes { decode($0, at: offset, expectedLSN: expectedLSN) }
    }

    /// The first offset at or after `start` holding a checksum-valid record whose LSN lies in
    /// `lsns`; used to tell a torn tail (nothing valid follows) from corruption.
    static func findValidRecord(
        _ bytes: UnsafeRawBufferPointer, from start: Int, lsns: ClosedRange<UInt64>
    ) -> Int? {
        var offset = start
        while offset + headerSize <= bytes.count {
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
            if length >= headerSize, length <= bytes.count - offset {
                let lsn = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self).littleEndian
                if lsns.contains(lsn), case .record = decode(bytes, at: offset, expectedLSN: lsn) {
                    return offset
                }
            }
            offset += 1
        }
        return nil
    }
}

extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// `withUnsafeBytes` for bodies with typed throws.
    @discardableResult
    func withRawBytes<R>(_ body: (UnsafeRawBufferPointer) throws(LogError) -> R) throws(LogError) -> R {
        let result: Result<R, LogError> = withUnsafeBytes { raw in
            do throws(LogError) {
                return .success(try body(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

extension UnsafeRawBufferPointer {
    func littleEndian<T: FixedWidthInteger>(at offset: Int, as: T.Type) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
