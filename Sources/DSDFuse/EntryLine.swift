import DSDCore

/// Why a written line is not an entry.
enum EntryLineError: Error, Equatable {
    case tooLong
    case malformed
}

/// The text of an entry file, `<value> <valid>\n`, and the parsing of what is written to it.
enum EntryLine {
    /// Longest accepted write: a maximal value, a space, the flag and the newline.
    static let maxWriteBytes = Limits.maxValueBytes + 3

    static func content(of entry: Entry) -> [UInt8] {
        Array("\(entry.value) \(entry.valid ? 1 : 0)\n".utf8)
    }

    /// Parses `<value>` or `<value> <valid>` with an optional trailing newline. The value is
    /// printable UTF-8 without whitespace; valid is `1` or `0` and defaults to `1`.
    static func parse(_ bytes: some Collection<UInt8>) throws(EntryLineError) -> (value: String, valid: Bool) {
        if bytes.count > maxWriteBytes { throw .tooLong }
        var body = Array(bytes)
        if body.last == UInt8(ascii: "\n") { body.removeLast() }
        if body.last == UInt8(ascii: "\r") { body.removeLast() }
        guard let text = String(validating: body, as: UTF8.self) else { throw .malformed }
        let fields = text.split(separator: " ", omittingEmptySubsequences: false)
        let value: Substring
        let valid: Bool
        switch fields.count {
        case 1:
            value = fields[0]
            valid = true
        case 2:
            value = fields[0]
            switch fields[1] {
            case "1": valid = true
            case "0": valid = false
            default: throw .malformed
            }
        default:
            throw .malformed
        }
        if value.isEmpty { throw .malformed }
        if value.utf8.count > Limits.maxValueBytes { throw .tooLong }
        for scalar in value.unicodeScalars
        where scalar.value < 0x20 || scalar.value == 0x7F || scalar.properties.isWhitespace {
            throw .malformed
        }
        return (String(value), valid)
    }
}
