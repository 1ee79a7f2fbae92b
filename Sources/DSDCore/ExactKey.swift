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
        compare(lhs.string, rhs.string) == 0
    }

    static func < (lhs: ExactKey, rhs: ExactKey) -> Bool {
        compare(lhs.string, rhs.string) < 0
    }

    /// The byte order of two strings: negative, zero or positive. It runs over their
    /// contiguous UTF-8 (native strings have it), not the generic `utf8` view: this is the
    /// innermost loop of every sorted insert and lookup.
    static func compare(_ lhs: String, _ rhs: String) -> Int {
        var left = lhs
        var right = rhs
        return left.withUTF8 { a in
            right.withUTF8 { b in
                let common = min(a.count, b.count)
                var index = 0
                while index < common {
                    if a[index] != b[index] { return Int(a[index]) - Int(b[index]) }
                    index += 1
                }
                return a.count - b.count
            }
        }
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
