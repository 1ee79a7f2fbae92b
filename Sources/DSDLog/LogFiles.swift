/// Names and headers of the files in a log directory:
///
/// - `segment-<base LSN, 16 hex digits>.wal`: a 16-byte header (magic, base LSN) followed by
///   records with consecutive LSNs starting at the base LSN, then zeros.
/// - `snapshot-<LSN, 16 hex digits>.snap`: the state after applying every record up to LSN.
/// - `*.tmp`: files being created; removed on open.
enum LogFiles {
    static let segmentMagic: [UInt8] = Array("DSDWAL".utf8) + [0, 1]
    static let snapshotMagic: [UInt8] = Array("DSDSNP".utf8) + [0, 1]
    static let segmentHeaderSize = 16
    static let snapshotHeaderSize = 28

    static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    static func segmentName(base: UInt64) -> String { "segment-\(hex16(base)).wal" }
    static func snapshotName(lsn: UInt64) -> String { "snapshot-\(hex16(lsn)).snap" }

    /// The number in `prefix<16 hex>suffix`, or nil for any other name.
    static func parse(_ name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix),
            name.utf8.count == prefix.utf8.count + 16 + suffix.utf8.count
        else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        return UInt64(digits, radix: 16)
    }

    static func segmentBase(_ name: String) -> UInt64? {
        parse(name, prefix: "segment-", suffix: ".wal")
    }
    static func snapshotLSN(_ name: String) -> UInt64? {
        parse(name, prefix: "snapshot-", suffix: ".snap")
    }

    static func segmentHeader(base: UInt64) -> [UInt8] {
        var header = segmentMagic
        header.appendLittleEndian(base)
        return header
    }

    /// Snapshot file: magic(8) lsn(8) length(8) crc32c(4) payload; the CRC covers lsn, length
    /// and payload.
    static func snapshotFile(lsn: UInt64, payload: some Collection<UInt8>) -> [UInt8] {
        var fields: [UInt8] = []
        fields.appendLittleEndian(lsn)
        fields.appendLittleEndian(UInt64(payload.count))
        let crc = CRC32C.update(CRC32C.checksum(fields), payload)
        var file = snapshotMagic + fields
        file.appendLittleEndian(crc)
        file.append(contentsOf: payload)
        return file
    }

    /// The payload of a snapshot file; throws `.corrupt` naming `path` when it is damaged.
    static func snapshotPayload(_ file: [UInt8], lsn: UInt64, path: String) throws(LogError)
        -> [UInt8]
    {
        let checked: (payload: [UInt8]?, reason: String) = file.withUnsafeBytes { raw in
            guard raw.count >= snapshotHeaderSize, Array(raw[0..<8]) == snapshotMagic else {
                return (nil, "bad snapshot header")
            }
            let storedLSN = raw.littleEndian(at: 8, as: UInt64.self)
            let length = raw.littleEndian(at: 16, as: UInt64.self)
            let crc = raw.littleEndian(at: 24, as: UInt32.self)
            guard storedLSN == lsn else {
                return (nil, "snapshot named for lsn \(lsn) holds \(storedLSN)")
            }
            guard length == UInt64(raw.count - snapshotHeaderSize) else {
                return (
                    nil, "snapshot length \(length) but \(raw.count - snapshotHeaderSize) bytes present"
                )
            }
            let fields = UnsafeRawBufferPointer(rebasing: raw[8..<24])
            let payload = UnsafeRawBufferPointer(rebasing: raw[snapshotHeaderSize...])
            guard CRC32C.update(CRC32C.update(0, fields), payload) == crc else {
                return (nil, "snapshot checksum mismatch")
            }
            return (Array(payload), "")
        }
        guard let payload = checked.payload else {
            throw .corrupt(file: path, offset: 0, reason: checked.reason)
        }
        return payload
    }
}
