/// One key as etcd stores it. Keys and values are bytes; etcd compares keys bytewise.
public struct KeyValue: Sendable, Hashable {
    public var key: [UInt8]
    /// Empty in a keys-only range and in a DELETE event.
    public var value: [UInt8]
    /// Revision of the put that created the key (since its last delete); 0 for a DELETE event.
    public var createRevision: Int64
    /// Revision of the latest change of the key.
    public var modRevision: Int64
    /// Number of puts since the key was created (1 after the first); 0 once deleted.
    public var version: Int64
    /// The lease the key is bound to, 0 if none.
    public var lease: Int64

    public init(
        key: [UInt8], value: [UInt8] = [], createRevision: Int64 = 0, modRevision: Int64 = 0, version: Int64 = 0,
        lease: Int64 = 0
    ) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }
}
