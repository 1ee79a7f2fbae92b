/// What to watch (`/v3/watch` create request).
public struct WatchRequest: Sendable, Hashable {
    public var keys: KeyRange
    /// First revision to report (0: changes after the current one). A revision etcd has
    /// compacted ends the watch with `WatchUpdate.compacted`.
    public var startRevision: Int64
    /// Ask etcd for periodic empty responses (`WatchUpdate.progress`) on an idle stream, so
    /// the resume point advances.
    public var progressNotify: Bool
    /// Include each changed key's previous state in its event.
    public var prevKV: Bool

    public init(_ keys: KeyRange, startRevision: Int64 = 0, progressNotify: Bool = false, prevKV: Bool = false) {
        self.keys = keys
        self.startRevision = startRevision
        self.progressNotify = progressNotify
        self.prevKV = prevKV
    }
}

/// One change a watch reports.
public struct WatchEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case put
        case delete
    }

    public var kind: Kind
    /// After the change; for a delete only the key and the delete's revision (`modRevision`).
    public var kv: KeyValue
    /// Before the change, when the watch asked for it and the key existed.
    public var previous: KeyValue?
}

/// One message of a watch stream, in the order etcd sent them.
public enum WatchUpdate: Sendable, Hashable {
    /// The watch exists; the store was at `revision`. Always first.
    case created(revision: Int64)
    /// Changes, in revision order; `revision` is the store's revision when they were sent.
    case events([WatchEvent], revision: Int64)
    /// Nothing changed in the range up to `revision` (a progress notification).
    case progress(revision: Int64)
    /// The start revision was compacted: history before `compactRevision` is gone. Relist
    /// (range) and watch again from the list's revision + 1. Always last.
    case compacted(compactRevision: Int64)
    /// etcd cancelled the watch for another reason (its words). Always last.
    case canceled(reason: String)
}
