import DSDCore

/// Why a key or table name cannot be a file name of the mount.
enum NameError: Error, Equatable {
    case tooLong
    case invalid
}

/// Validation of keys and table names: they become file and directory names, and entry lines
/// separate fields by spaces, so no `/`, NUL, control characters or whitespace, not `.`/`..`.
enum Names {
    static func validateKey(_ name: String) throws(NameError) {
        try validate(name, limit: Limits.maxKeyBytes)
    }

    static func validateTable(_ name: String) throws(NameError) {
        try validate(name, limit: Limits.maxTableNameBytes)
    }

    static func isValidKey(_ name: String) -> Bool {
        do { try validateKey(name); return true } catch { return false }
    }

    static func isValidTable(_ name: String) -> Bool {
        do { try validateTable(name); return true } catch { return false }
    }

    private static func validate(_ name: String, limit: Int) throws(NameError) {
        if name.utf8.count > limit { throw .tooLong }
        if name.isEmpty || name == "." || name == ".." { throw .invalid }
        for scalar in name.unicodeScalars {
            if scalar == "/" || scalar.value < 0x20 || scalar.value == 0x7F
                || scalar.properties.isWhitespace
            {
                throw .invalid
            }
        }
    }
}
