/// The requests this client makes, named in errors; each knows its gateway path and whether
/// sending it twice is harmless.
public enum EtcdOperation: String, Sendable, Hashable, CustomStringConvertible {
    case range
    case put
    case deleteRange
    case txn
    case compaction
    case leaseGrant
    case leaseKeepAlive
    case leaseRevoke
    case leaseTimeToLive
    case status
    case watch

    /// Path under the gateway (etcd 3.4 serves `/v3/`; 3.3 only `/v3beta/`, not supported).
    var path: String {
        switch self {
        case .range: "/v3/kv/range"
        case .put: "/v3/kv/put"
        case .deleteRange: "/v3/kv/deleterange"
        case .txn: "/v3/kv/txn"
        case .compaction: "/v3/kv/compaction"
        case .leaseGrant: "/v3/lease/grant"
        case .leaseKeepAlive: "/v3/lease/keepalive"
        case .leaseRevoke: "/v3/lease/revoke"
        case .leaseTimeToLive: "/v3/lease/timetolive"
        case .status: "/v3/maintenance/status"
        case .watch: "/v3/watch"
        }
    }

    /// Sending it again after an unknown outcome changes nothing a caller could tell apart:
    /// reads and lease renewals. Writes are resent only where the first attempt provably did
    /// nothing (no connection, or refused before it reached consensus).
    var isIdempotent: Bool {
        switch self {
        case .range, .leaseKeepAlive, .leaseTimeToLive, .status, .watch: true
        case .put, .deleteRange, .txn, .compaction, .leaseGrant, .leaseRevoke: false
        }
    }

    /// Sent with the `hasleader` metadata, so that a member without a leader refuses at once.
    /// A member's status is wanted especially when it has none.
    var requiresLeader: Bool {
        switch self {
        case .status: false
        case .range, .put, .deleteRange, .txn, .compaction, .leaseGrant, .leaseKeepAlive, .leaseRevoke,
            .leaseTimeToLive, .watch:
            true
        }
    }

    public var description: String {
        switch self {
        case .range: "read"
        case .put: "put"
        case .deleteRange: "delete"
        case .txn: "transaction"
        case .compaction: "compaction"
        case .leaseGrant: "lease grant"
        case .leaseKeepAlive: "lease keepalive"
        case .leaseRevoke: "lease revoke"
        case .leaseTimeToLive: "lease time-to-live"
        case .status: "status"
        case .watch: "watch"
        }
    }
}
