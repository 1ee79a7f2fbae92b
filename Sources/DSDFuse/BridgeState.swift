import CFuse
import DSDCore
import Glibc

/// An entry or a table (key `nil`), the unit of local-change tracking and reflection.
struct PathKey: Hashable, Sendable {
    var table: String
    var key: String?
}

/// A change made through this mount, remembered until its replica event arrives so that the
/// notifier invalidates it after the handler replied and does not reflect it a second time.
struct LocalOp {
    enum Kind: Equatable {
        case put(value: String, valid: Bool)
        case delete
        case tableCreate
        case tableDrop
    }

    var id: UInt64
    var kind: Kind
    var repliedAt: ContinuousClock.Instant?
    var eventSeen = false
}

/// How the reflector sees a name while it replays a change.
enum Reflection: Equatable {
    /// Absent until the reflector's create (then `present`), so the kernel sends CREATE.
    case creating(size: Int)
    /// Present with this content size (a modification, or a deletion before its unlink).
    case present(size: Int)
}

/// Per-open state (files opened with open support: creations, directories).
enum OpenHandle {
    /// A file created by open(O_CREAT) that has no entry until its first write.
    case provisional(PathKey)
    /// A directory listing fixed at opendir: (name, inode, is directory).
    case listing([(String, UInt64, Bool)])
}

/// Everything the handlers and the notifier share, guarded by `FuseBridge.state`.
struct BridgeState {
    var tree: FileTree
    /// The bytes whose size the kernel was last told for a regular file (entry, find, part,
    /// status), by inode. Reads serve these bytes, so a read that races a change never mixes
    /// one version's size with another's text; every attribute reply refreshes them, and the
    /// notifier's `inval_inode` forces an attribute request before the next read.
    var shown: [UInt64: [UInt8]] = [:]
    /// The `status` text last shown and when it last changed (its mtime: a new mtime makes the
    /// kernel drop its cached pages, `auto_inval_data`).
    var status: (text: [UInt8], mtime: timespec)?
    var mtimes: [PathKey: timespec] = [:]
    /// Per table, when many of its entries last changed at once (`Notifier.applyInBulk`): the
    /// mtime of an entry without its own, instead of one record per entry of a million.
    var bulkMtimes: [String: timespec] = [:]
    var localOps: [PathKey: [LocalOp]] = [:]
    var nextOpID: UInt64 = 1
    /// Remote changes being replayed by the reflector. The reflector sees the tree as it was
    /// at that event, not as the replica is now (which may have moved on).
    var reflecting: [PathKey: Reflection] = [:]
    var provisional: Set<PathKey> = []
    var handles: [UInt64: OpenHandle] = [:]
    var nextHandle: UInt64 = 1

    init(tree: FileTree = FileTree()) { self.tree = tree }

    /// The kernel dropped references; a node it forgot entirely loses its shown bytes too.
    mutating func forget(_ ino: UInt64, count: UInt64) {
        tree.forget(ino, count: count)
        if tree.kind(of: ino) == nil { shown[ino] = nil }
    }

    /// The mtime of `status` showing `text`: unchanged while the text is.
    mutating func statusMtime(_ text: [UInt8], now: timespec) -> timespec {
        if let status, status.text == text { return status.mtime }
        status = (text, now)
        return now
    }

    mutating func beginLocal(_ path: PathKey, _ kind: LocalOp.Kind) -> UInt64 {
        let id = nextOpID
        nextOpID += 1
        localOps[path, default: []].append(LocalOp(id: id, kind: kind, repliedAt: nil, eventSeen: false))
        return id
    }

    /// The handler finished. Returns whether the replica event already came (and was left for
    /// the handler to invalidate, since invalidating during its write would deadlock).
    mutating func endLocal(_ path: PathKey, id: UInt64, succeeded: Bool, now: ContinuousClock.Instant) -> Bool {
        guard var ops = localOps[path], let index = ops.firstIndex(where: { $0.id == id }) else { return false }
        let seen = ops[index].eventSeen
        if succeeded && !seen { ops[index].repliedAt = now } else { ops.remove(at: index) }
        localOps[path] = ops.isEmpty ? nil : ops
        return succeeded && seen
    }

    enum EchoMatch { case none, replied, pending }

    /// Whether a replica change is the echo of a local change. A replied echo is consumed; an
    /// echo whose handler is still running is marked, and the handler invalidates after replying.
    mutating func matchEcho(_ path: PathKey, _ kind: LocalOp.Kind) -> EchoMatch {
        guard var ops = localOps[path],
            let index = ops.firstIndex(where: { $0.kind == kind && !$0.eventSeen })
        else {
            return .none
        }
        if ops[index].repliedAt == nil {
            ops[index].eventSeen = true
            localOps[path] = ops
            return .pending
        }
        ops.remove(at: index)
        localOps[path] = ops.isEmpty ? nil : ops
        return .replied
    }

    mutating func purgeEchoes(olderThan limit: ContinuousClock.Instant) {
        for (path, ops) in localOps {
            let kept = ops.filter { $0.repliedAt == nil || $0.repliedAt! > limit }
            localOps[path] = kept.isEmpty ? nil : kept
        }
    }

    mutating func addHandle(_ handle: OpenHandle) -> UInt64 {
        let fh = nextHandle
        nextHandle += 1
        handles[fh] = handle
        return fh
    }
}

/// Wall-clock helpers: file times are CLOCK_REALTIME, heartbeat deadlines ContinuousClock.
enum WallClock {
    static func now() -> timespec {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts
    }

    /// The ContinuousClock instant of a future wall-clock time, `nil` when it is not future.
    static func deadline(
        forMtime mtime: timespec, wallNow: timespec, continuousNow: ContinuousClock.Instant
    ) -> ContinuousClock.Instant? {
        let deltaNanos =
            (Int64(mtime.tv_sec) - Int64(wallNow.tv_sec)) * 1_000_000_000
            + (Int64(mtime.tv_nsec) - Int64(wallNow.tv_nsec))
        guard deltaNanos > 0 else { return nil }
        return continuousNow.advanced(by: .nanoseconds(deltaNanos))
    }
}
