/// What the driver of a `HeartbeatTracker` must do.
public enum HeartbeatDirective: Hashable, Sendable {
    /// A touch arrived for an entry that is invalid: make it valid.
    case markValid(TableID, key: String)
    /// The entry missed its deadline: make it invalid.
    case markInvalid(TableID, key: String)
}

/// Entry heartbeats (FIG. 5C) as a pure state machine.
///
/// A touch of an entry arms a deadline `now + Time_Max`; a touch before the deadline moves it
/// (`Time < Time_Max`); a tick at or after the deadline (`Time ≥ Time_Max`) expires it and
/// asks for the entry to be marked invalid. A touch without a Time_Max reuses the entry's last
/// one (also after an expiry), or `Settings.defaultTimeMax` for an entry never touched before.
///
/// Deadlines live in an indexed min-heap and Time_Max values in a map, so a renewal is
/// O(log n) and a tick costs O(log n) per expired entry (the etcd lessor's layout). The
/// driver wakes up at `nextDeadline` and calls `onTick`.
public struct HeartbeatTracker: Sendable {
    public struct Settings: Hashable, Sendable {
        /// Time_Max of an entry whose first touch states none.
        public var defaultTimeMax: Duration

        public init(defaultTimeMax: Duration) { self.defaultTimeMax = defaultTimeMax }

        /// Three seconds: the design's example deadline (`touch -d '+3 sec'`); it tolerates a
        /// process that touches once a second missing two beats. Servers that need faster
        /// detection state their own Time_Max.
        public static let `default` = Settings(defaultTimeMax: .seconds(3))
        /// Fast enough for tests that run with real timers.
        public static let testing = Settings(defaultTimeMax: .milliseconds(100))
    }

    /// An entry of a table.
    public struct EntryRef: Hashable, Sendable {
        public var table: TableID
        public var key: String

        public init(table: TableID, key: String) {
            self.table = table
            self.key = key
        }
    }

    public let settings: Settings
    private var timeMax: [EntryRef: Duration] = [:]
    private var deadlines = DeadlineHeap<EntryRef>()

    public init(settings: Settings = .default) { self.settings = settings }

    /// The earliest armed deadline; the driver should tick then.
    public var nextDeadline: Instant? { deadlines.min?.deadline }

    /// Number of entries with an armed deadline.
    public var armedCount: Int { deadlines.count }

    /// The armed deadline of an entry.
    public func deadline(table: TableID, key: String) -> Instant? {
        deadlines.deadline(of: EntryRef(table: table, key: key))
    }

    /// Every entry touched and not forgotten, with its Time_Max (armed or expired): what the
    /// agent leases at the directory.
    public var tracked: [EntryRef: Duration] { timeMax }

    /// The Time_Max a touch without one would use for this entry.
    public func timeMax(table: TableID, key: String) -> Duration {
        timeMax[EntryRef(table: table, key: key)] ?? settings.defaultTimeMax
    }

    /// A heartbeat: arms or moves the entry's deadline to `now + Time_Max`. `currentlyValid`
    /// is the entry's validity in the caller's table; an invalid entry is marked valid.
    public mutating func onTouch(
        table: TableID, key: String, timeMax requested: Duration?, currentlyValid: Bool,
        now: Instant
    ) -> [HeartbeatDirective] {
        let ref = EntryRef(table: table, key: key)
        let period = requested ?? timeMax[ref] ?? settings.defaultTimeMax
        timeMax[ref] = period
        deadlines.set(ref, deadline: now + period)
        return currentlyValid ? [] : [.markValid(table, key: key)]
    }

    /// Expires every deadline at or before `now`, earliest first.
    public mutating func onTick(now: Instant) -> [HeartbeatDirective] {
        var directives: [HeartbeatDirective] = []
        while let first = deadlines.min, first.deadline <= now {
            _ = deadlines.popMin()
            directives.append(.markInvalid(first.key.table, key: first.key.key))
        }
        return directives
    }

    /// Forgets an entry (deleted): no deadline, no remembered Time_Max.
    public mutating func onRemove(table: TableID, key: String) {
        let ref = EntryRef(table: table, key: key)
        deadlines.remove(ref)
        timeMax[ref] = nil
    }

    /// Forgets every entry of a dropped table.
    public mutating func onRemoveTable(_ table: TableID) {
        for ref in timeMax.keys where ref.table == table {
            deadlines.remove(ref)
            timeMax[ref] = nil
        }
    }

    /// Grace after a takeover (etcd's promote): nobody knows when armed entries were last
    /// touched, so every armed deadline moves to `now + Time_Max + grace` (never earlier than
    /// it was). Unarmed (expired) entries stay unarmed.
    public mutating func extendAll(by grace: Duration, now: Instant) {
        for ref in timeMax.keys {
            guard let current = deadlines.deadline(of: ref), let period = timeMax[ref] else {
                continue
            }
            let extended = now + period + grace
            if extended > current { deadlines.set(ref, deadline: extended) }
        }
    }
}
