/// A read of one key or a range of keys (`/v3/kv/range`).
public struct RangeRequest: Sendable, Hashable {
    public var keys: KeyRange
    /// Read the store as of this revision (0: the current one). A compacted revision is
    /// refused (`EtcdError.Rejection.compacted`).
    public var revision: Int64
    /// At most this many keys (0: no limit); `RangeResponse.more` says whether more exist.
    public var limit: Int64
    /// Only keys, no values.
    public var keysOnly: Bool
    /// Only the count, no keys.
    public var countOnly: Bool

    public init(
        _ keys: KeyRange, revision: Int64 = 0, limit: Int64 = 0, keysOnly: Bool = false, countOnly: Bool = false
    ) {
        self.keys = keys
        self.revision = revision
        self.limit = limit
        self.keysOnly = keysOnly
        self.countOnly = countOnly
    }
}

/// What a range read found.
public struct RangeResponse: Sendable, Hashable {
    public var header: ResponseHeader
    /// In key order; empty for a count-only read.
    public var kvs: [KeyValue]
    /// How many keys the range holds (all of them, even past a limit).
    public var count: Int64
    /// A limit left keys out.
    public var more: Bool
}

/// What a put did.
public struct PutResponse: Sendable, Hashable {
    public var header: ResponseHeader
    /// The key before the put, when asked for (`prevKV`) and it existed.
    public var previous: KeyValue?
}

/// What a delete did.
public struct DeleteResponse: Sendable, Hashable {
    public var header: ResponseHeader
    public var deleted: Int64
    /// The deleted keys, when asked for (`prevKV`).
    public var previous: [KeyValue]
}
