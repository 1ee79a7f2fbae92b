/// A lease etcd granted: keys put with it are deleted when it expires or is revoked.
public struct Lease: Sendable, Hashable {
    public var id: Int64
    /// Seconds etcd granted (it may raise a TTL below its minimum, 2 s with default timing).
    public var ttl: Int64
}

/// What etcd knows about a lease.
public struct LeaseTimeToLive: Sendable, Hashable {
    public var id: Int64
    /// Seconds left. A lower bound only: etcd restarts the countdown when its own leader
    /// changes (etcd#9395).
    public var ttl: Int64
    public var grantedTTL: Int64
    /// The keys bound to it, when asked for.
    public var keys: [[UInt8]]
}

/// Status of one member (`/v3/maintenance/status`).
public struct MemberStatus: Sendable, Hashable {
    public var header: ResponseHeader
    /// etcd's version, e.g. "3.4.23".
    public var version: String
    /// The member id of the leader this member follows (0: it knows of none).
    public var leader: UInt64
    public var raftTerm: UInt64
}
