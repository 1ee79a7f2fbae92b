/// One condition of a transaction: a field of a key compared with a value. A missing key has
/// version, create and mod revision 0 and no value, so `createRevision == 0` means "absent".
public struct Compare: Sendable, Hashable {
    public enum Target: Sendable, Hashable {
        case value([UInt8])
        case version(Int64)
        case createRevision(Int64)
        case modRevision(Int64)
        case lease(Int64)
    }

    public enum Result: String, Sendable, Hashable {
        case equal = "EQUAL"
        case greater = "GREATER"
        case less = "LESS"
        case notEqual = "NOT_EQUAL"
    }

    public var key: [UInt8]
    /// With an end, the compare holds for every key in `[key, rangeEnd)`; an empty range
    /// compares as one missing key (so `createRevision(0) == ` holds: "no key in the range").
    public var rangeEnd: [UInt8]?
    public var target: Target
    public var result: Result

    public init(key: [UInt8], rangeEnd: [UInt8]? = nil, _ target: Target, _ result: Result) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.target = target
        self.result = result
    }

    /// The key does not exist (its create revision is 0).
    public static func absent(_ key: [UInt8]) -> Compare { Compare(key: key, .createRevision(0), .equal) }

    /// The key exists.
    public static func present(_ key: [UInt8]) -> Compare { Compare(key: key, .createRevision(0), .greater) }

    /// No key starts with `prefix`.
    public static func noKey(withPrefix prefix: [UInt8]) -> Compare {
        Compare(key: prefix, rangeEnd: KeyRange.prefixEnd(prefix), .createRevision(0), .equal)
    }
}

/// One operation of a transaction's success or failure branch.
public enum TxnOperation: Sendable, Hashable {
    case put(key: [UInt8], value: [UInt8], lease: Int64 = 0)
    case delete(KeyRange)
    case range(RangeRequest)
}

/// What a transaction did: which branch ran, and each of its operations' answers in order.
public struct TxnResponse: Sendable, Hashable {
    public enum Answer: Sendable, Hashable {
        case put(PutResponse)
        case delete(DeleteResponse)
        case range(RangeResponse)
    }

    public var header: ResponseHeader
    /// Every compare held: the success branch ran.
    public var succeeded: Bool
    public var answers: [Answer]
}
