/// A string that is compared, ordered and hashed by its UTF-8 bytes, the way file names are.
///
/// `String` equality is canonical equivalence (precomposed `é` equals `e` + U+0301), but keys
/// are file names and bytes on the wire: two keys are the same only when their bytes are.
/// Byte order is also what makes all keys with a given prefix one contiguous run of the sorted
/// order, which prefix search relies on.
struct ExactKey: Hashable, Comparable, Sendable {
    let string: String

    init(_ string: String) { self.string = string }

    static func == (lhs: ExactKey, rhs: ExactKey) -> Bool {
        lhs.string.utf8.elementsEqual(rhs.string.utf8)
    }

    static func < (lhs: ExactKey, rhs: ExactKey) -> Bool {
        lhs.string.utf8.lexicographicallyPrecedes(rhs.string.utf8)
    }

    func hash(into hasher: inout Hasher) {
        var copy = string
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(string.utf8.count)
    }

    /// Whether the key starts with the bytes of `prefix`.
    func hasPrefix(_ prefix: String) -> Bool {
        string.utf8.starts(with: prefix.utf8)
    }
}
