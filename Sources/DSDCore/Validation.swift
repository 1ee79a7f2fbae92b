/// The rules every key, value and table name obeys before it enters a table.
///
/// Keys and table names are file names under `/dsd/tables/` and single tokens of the text
/// formats (`TABLE KEY VALUE VALID`, entry files `<value> <valid>\n`, event lines), so they may
/// not hold `/`, whitespace or control characters (NUL and newline included), and may not be
/// `.` or `..`. Values are a single token of the entry file and may not hold whitespace or
/// control characters either. Lengths count UTF-8 bytes, as the kernel does.
public enum Validation {
    /// Checks a key.
    public static func checkKey(_ key: String) throws(DirectoryError) {
        if let problem = nameProblem(key) { throw .invalidKey(problem) }
        let bytes = key.utf8.count
        if bytes > Limits.maxKeyBytes { throw .keyTooLong(bytes: bytes) }
    }

    /// Checks a table name.
    public static func checkTableName(_ name: String) throws(DirectoryError) {
        if let problem = nameProblem(name) { throw .invalidTableName(problem) }
        let bytes = name.utf8.count
        if bytes > Limits.maxTableNameBytes { throw .tableNameTooLong(bytes: bytes) }
    }

    /// Checks a value.
    public static func checkValue(_ value: String) throws(DirectoryError) {
        if value.isEmpty { throw .invalidValue(.empty) }
        let bytes = value.utf8.count
        if bytes > Limits.maxValueBytes { throw .valueTooLong(bytes: bytes) }
        if let bad = firstForbidden(in: value, slashAllowed: true) {
            throw .invalidValue(.forbiddenCharacter(bad))
        }
    }

    /// Checks the key and the value of an entry.
    public static func checkEntry(_ entry: Entry) throws(DirectoryError) {
        try checkKey(entry.key)
        try checkValue(entry.value)
    }

    private static func nameProblem(_ name: String) -> DirectoryError.NameProblem? {
        if name.isEmpty { return .empty }
        if name == "." || name == ".." { return .dotName }
        if let bad = firstForbidden(in: name, slashAllowed: false) {
            return .forbiddenCharacter(bad)
        }
        return nil
    }

    /// The first forbidden character. Printable ASCII is decided from the byte alone; the
    /// Unicode property tables are consulted only for other characters.
    private static func firstForbidden(in text: String, slashAllowed: Bool) -> Unicode.Scalar? {
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v > 0x20 && v < 0x7F {
                if v == 0x2F && !slashAllowed { return scalar }
            } else if v < 0x80 || isForbiddenInToken(scalar) {
                return scalar
            }
        }
        return nil
    }

    /// Whitespace (any Unicode white space, newline included) and control characters (NUL
    /// included) would split or end a token of the text formats.
    private static func isForbiddenInToken(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || scalar.properties.generalCategory == .control
    }
}
