import DSDCore
import NIOCore

/// Field codecs shared by every message body. Readers work on a body slice whose length the
/// frame header already fixed, so running short inside a body is a `malformed` error, never a
/// request for more input.
extension ByteBuffer {
    // MARK: Varints

    /// Appends `value` as an unsigned LEB128 varint (1–10 bytes, minimal).
    @discardableResult
    public mutating func writeVarint(_ value: UInt64) -> Int {
        var remaining = value
        var written = 0
        while remaining >= 0x80 {
            written += writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        return written + writeInteger(UInt8(remaining))
    }

    /// Reads a minimal unsigned LEB128 varint. Overlong encodings (a trailing zero group, more
    /// than 10 bytes, or bits beyond 64) are rejected so every value has exactly one encoding.
    public mutating func readVarint(_ field: String) throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        for index in 0..<10 {
            guard let byte = readInteger(as: UInt8.self) else {
                throw .malformed("\(field): truncated varint")
            }
            if index == 9 && byte > 1 { throw .malformed("\(field): varint exceeds 64 bits") }
            result |= UInt64(byte & 0x7F) << (7 * UInt64(index))
            if byte & 0x80 == 0 {
                if byte == 0 && index > 0 { throw .malformed("\(field): overlong varint") }
                return result
            }
        }
        throw .malformed("\(field): varint longer than 10 bytes")
    }

    /// The number of bytes `writeVarint(value)` appends.
    public static func varintSize(_ value: UInt64) -> Int {
        var size = 1
        var remaining = value >> 7
        while remaining != 0 {
            size += 1
            remaining >>= 7
        }
        return size
    }

    mutating func readBoundedVarint(_ field: String, max: UInt64) throws(WireError) -> UInt64 {
        let value = try readVarint(field)
        guard value <= max else { throw .malformed("\(field): \(value) exceeds \(max)") }
        return value
    }

    // MARK: Scalars

    mutating func writeBool(_ value: Bool) {
        writeInteger(UInt8(value ? 1 : 0))
    }

    mutating func readBool(_ field: String) throws(WireError) -> Bool {
        switch try readByte(field) {
        case 0: return false
        case 1: return true
        case let other: throw .malformed("\(field): bool byte \(other)")
        }
    }

    mutating func readByte(_ field: String) throws(WireError) -> UInt8 {
        guard let byte = readInteger(as: UInt8.self) else { throw .malformed("\(field): truncated") }
        return byte
    }

    mutating func writeBytes32(_ value: Bytes32) {
        writeBytes(value.bytes)
    }

    mutating func readBytes32(_ field: String) throws(WireError) -> Bytes32 {
        guard let bytes = readBytes(length: Bytes32.count), let value = Bytes32(bytes) else {
            throw .malformed("\(field): truncated")
        }
        return value
    }

    // MARK: Strings

    /// Appends a varint byte count and the UTF-8 bytes; throws if longer than `max` bytes.
    mutating func writeWireString(_ value: String, max: Int, _ field: String) throws(WireError) {
        let count = value.utf8.count
        guard count <= max else { throw .malformed("\(field): \(count) bytes exceeds \(max)") }
        writeVarint(UInt64(count))
        writeString(value)
    }

    /// Like `writeWireString`, but cuts over-long text at a character boundary instead of
    /// failing: for free-text error messages, which must never stop an error being sent.
    mutating func writeTruncatedString(_ value: String, max: Int) {
        var text = Substring(value)
        while text.utf8.count > max { text = text.dropLast() }
        writeVarint(UInt64(text.utf8.count))
        writeSubstring(text)
    }

    /// Reads a varint byte count (at most `max`) and that many bytes of valid UTF-8.
    public mutating func readWireString(max: Int, _ field: String) throws(WireError) -> String {
        let count = try readBoundedVarint(field, max: UInt64(max))
        guard let slice = readSlice(length: Int(count)) else { throw .malformed("\(field): truncated") }
        guard let value = String(validating: slice.readableBytesView, as: UTF8.self) else {
            throw .malformed("\(field): invalid UTF-8")
        }
        return value
    }

    // MARK: Directory types

    mutating func writeVersion(_ version: Version) {
        writeVarint(version.epoch)
        writeVarint(version.index)
    }

    mutating func readVersion(_ field: String) throws(WireError) -> Version {
        let epoch = try readVarint("\(field).epoch")
        let index = try readVarint("\(field).index")
        return Version(epoch: epoch, index: index)
    }

    mutating func writeOptionalVersion(_ version: Version?) {
        writeBool(version != nil)
        if let version { writeVersion(version) }
    }

    mutating func readOptionalVersion(_ field: String) throws(WireError) -> Version? {
        try readBool("\(field).present") ? try readVersion(field) : nil
    }

    mutating func writeOptionalVarint(_ value: UInt64?) {
        writeBool(value != nil)
        if let value { writeVarint(value) }
    }

    mutating func readOptionalVarint(_ field: String) throws(WireError) -> UInt64? {
        try readBool("\(field).present") ? try readVarint(field) : nil
    }

    mutating func writeTableID(_ id: TableID) {
        writeVarint(UInt64(id.rawValue))
    }

    mutating func readTableID(_ field: String) throws(WireError) -> TableID {
        TableID(UInt32(try readBoundedVarint(field, max: UInt64(UInt32.max))))
    }

    mutating func writeKey(_ key: String) throws(WireError) {
        try writeWireString(key, max: Limits.maxKeyBytes, "key")
    }

    mutating func readKey() throws(WireError) -> String {
        try readWireString(max: Limits.maxKeyBytes, "key")
    }

    mutating func writeTableName(_ name: String) throws(WireError) {
        try writeWireString(name, max: Limits.maxTableNameBytes, "table")
    }

    mutating func readTableName() throws(WireError) -> String {
        try readWireString(max: Limits.maxTableNameBytes, "table")
    }

    /// key, value, valid.
    mutating func writeEntry(_ entry: Entry) throws(WireError) {
        try writeKey(entry.key)
        try writeWireString(entry.value, max: Limits.maxValueBytes, "value")
        writeBool(entry.valid)
    }

    mutating func readEntry() throws(WireError) -> Entry {
        let key = try readKey()
        let value = try readWireString(max: Limits.maxValueBytes, "value")
        return Entry(key: key, value: value, valid: try readBool("valid"))
    }

    /// A varint count (at most `WireLimits.maxEntriesPerFrame`) and the entries.
    mutating func writeEntries(_ entries: [Entry]) throws(WireError) {
        guard entries.count <= WireLimits.maxEntriesPerFrame else {
            throw .malformed("entries: \(entries.count) exceeds \(WireLimits.maxEntriesPerFrame)")
        }
        writeVarint(UInt64(entries.count))
        for entry in entries { try writeEntry(entry) }
    }

    mutating func readEntries() throws(WireError) -> [Entry] {
        let count = Int(try readBoundedVarint("entries", max: UInt64(WireLimits.maxEntriesPerFrame)))
        // Each entry takes at least 3 bytes; refuse counts the body cannot hold before reserving.
        guard count * 3 <= readableBytes else { throw .malformed("entries: truncated") }
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count { entries.append(try readEntry()) }
        return entries
    }

    mutating func writeErrorCode(_ code: ErrorCode) {
        writeInteger(code.rawValue)
    }

    mutating func readErrorCode() throws(WireError) -> ErrorCode {
        let raw = try readByte("code")
        guard let code = ErrorCode(rawValue: raw) else { throw .malformed("code: unknown \(raw)") }
        return code
    }
}
