/// The keys a request covers: one key, every key with a prefix, or `[key, end)`.
public struct KeyRange: Sendable, Hashable {
    public var key: [UInt8]
    /// Exclusive end; nil for the single key `key`; `[0]` for no end (every key from `key` on).
    public var end: [UInt8]?

    public init(key: [UInt8], end: [UInt8]?) {
        self.key = key
        self.end = end
    }

    public static func key(_ key: [UInt8]) -> KeyRange { KeyRange(key: key, end: nil) }
    public static func key(_ key: String) -> KeyRange { .key(Array(key.utf8)) }

    /// Every key that starts with `prefix`; every key at all for an empty prefix (etcd wants a
    /// key, so that is `["\0", "\0")`, "from the smallest key to no end").
    public static func prefix(_ prefix: [UInt8]) -> KeyRange {
        prefix.isEmpty ? KeyRange(key: [0], end: [0]) : KeyRange(key: prefix, end: prefixEnd(prefix))
    }
    public static func prefix(_ prefix: String) -> KeyRange { .prefix(Array(prefix.utf8)) }

    /// The smallest key greater than every key with `prefix`: the prefix with its last byte
    /// below 0xff incremented and what follows dropped; `[0]` (etcd's "no end") when the
    /// prefix is empty or all 0xff, as etcd's `clientv3.GetPrefixRangeEnd` does.
    public static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }
}
