/// DSDCore: the pure core of dsd — tables, versions, the change history, the resolution rules
/// of the design document, and the state machines the drivers run. Nothing here performs I/O
/// or reads a clock; time is always a parameter.
///
/// `Directory` is the versioned state held by the directory server and by every agent
/// replica:
///
/// - The directory server calls `commit(_:)`: it validates a `Mutation` against the current
///   state, assigns the next `Version` and applies it, returning the `Change` to log and push.
/// - A replica calls `apply(_:)` with changes in the order the directory assigned them; a
///   change must be newer than the replica's version.
/// - Both retain the last `Settings.retainedChanges` changes, so `changes(after:)` can serve a
///   reconnecting replica a delta, or say a snapshot is needed (see `ChangeHistory` for the
///   exact rule).
/// - `beginEpoch(_:)` starts a new epoch for a directory that restarts without proof of
///   continuity or takes over from a failed one. The current version stays; the next commit is
///   `(epoch, 1)`. A replica at the last version of the previous epoch still gets a delta,
///   because that version is a retained boundary.
///
/// Resolution (`currentRoute`, `findServer`, `partition`), primary promotion (`Promotion`),
/// heartbeat expiry (`HeartbeatTracker`) and the text format (`LoadFormat`) work on it.
public struct Directory: Sendable {
    /// Tuning of a directory.
    public struct Settings: Hashable, Sendable {
        /// How many recent entry changes are kept for deltas (a batch counts as its
        /// operations). Older replicas get a snapshot.
        public var retainedChanges: Int
        /// Most tables, standard ones included. A replica must allow at least as many as its
        /// directory, or it refuses changes the directory accepted.
        public var maxTables: Int
        /// Most entries in one table; the same caveat applies.
        public var maxEntriesPerTable: Int
        /// Every version between two retained changes names the state after the first of
        /// them (see `ChangeHistory`). True for a directory fed by etcd, whose versions are
        /// etcd revisions: a revision that changed no table (a lease renewal, another
        /// server's election key) leaves the tables as they were, and the feed reports every
        /// revision in order. False for the log, whose versions are only those it assigned.
        public var continuousVersions: Bool

        public init(
            retainedChanges: Int, maxTables: Int = Limits.maxTables,
            maxEntriesPerTable: Int = Limits.maxEntriesPerTable, continuousVersions: Bool = false
        ) {
            self.retainedChanges = retainedChanges
            self.maxTables = maxTables
            self.maxEntriesPerTable = maxEntriesPerTable
            self.continuousVersions = continuousVersions
        }

        /// 65,536 changes are a few megabytes (a change is a key and a value of typically a
        /// few dozen bytes), cover a minute of disconnection even at 1,000 changes per second,
        /// and a delta longer than that costs about as much as a snapshot of a typical
        /// directory anyway.
        public static let `default` = Settings(retainedChanges: 65_536)

        /// Small enough that tests exercise eviction and snapshots.
        public static let testing = Settings(retainedChanges: 16)
    }

    public let settings: Settings
    /// The version of the last applied change (or of the initial/restored state).
    public private(set) var version: Version
    /// The epoch the next commit uses; at least `version.epoch`.
    public private(set) var epoch: UInt64
    /// Table names ↔ ids.
    public private(set) var translation: TranslationTable
    var tables: [TableID: Table]
    private var history: ChangeHistory

    /// An empty directory (standard tables only) at version `(epoch, 0)`.
    public init(epoch: UInt64, settings: Settings = .default) {
        self.settings = settings
        self.version = Version(epoch: epoch, index: 0)
        self.epoch = epoch
        self.translation = TranslationTable()
        self.tables = [:]
        for table in StandardTable.allCases {
            tables[table.id] = Table(id: table.id, name: table.name)
        }
        self.history = ChangeHistory(
            capacity: settings.retainedChanges, base: version, continuous: settings.continuousVersions)
    }

    init(
        restoring version: Version, translation: TranslationTable, tables: [TableID: Table],
        settings: Settings
    ) {
        self.settings = settings
        self.version = version
        self.epoch = version.epoch
        self.translation = translation
        self.tables = tables
        self.history = ChangeHistory(
            capacity: settings.retainedChanges, base: version, continuous: settings.continuousVersions)
    }

    // MARK: Reading

    /// The table with this id.
    public func table(_ id: TableID) -> Table? { tables[id] }

    /// The table with this name.
    public func table(named name: String) -> Table? {
        translation.id(of: name).flatMap { tables[$0] }
    }

    /// Table names in byte order.
    public var tableNames: [String] {
        tables.values.map(\.name).sorted { ExactKey($0) < ExactKey($1) }
    }

    /// Number of tables, standard ones included.
    public var tableCount: Int { tables.count }

    /// Number of entries over all tables.
    public var entryCount: Int { tables.values.reduce(0) { $0 + $1.count } }

    /// The entry `key` of table `id`.
    public func entry(table id: TableID, key: String) -> Entry? { tables[id]?[key] }

    /// The entry `key` of the named table.
    public func entry(table name: String, key: String) -> Entry? { table(named: name)?[key] }

    /// Key search (FIG. 5A): entries of table `id` whose key starts with `prefix`, in key
    /// order; the empty prefix returns the whole table. An unknown table has no entries.
    public func search(table id: TableID, prefix: String) -> [Entry] {
        tables[id]?.search(prefix: prefix) ?? []
    }

    /// Key search by table name.
    public func search(table name: String, prefix: String) throws(DirectoryError) -> [Entry] {
        guard let table = table(named: name) else { throw .noSuchTable(name) }
        return table.search(prefix: prefix)
    }

    /// The oldest version a replica can be at and still receive a delta.
    public var oldestRetainedVersion: Version { history.base }

    /// Number of retained changes.

    /// What a replica at `version` needs to catch up.
    public func changes(after version: Version) -> ChangesSince {
        history.changes(after: version, current: self.version)
    }

    // MARK: Changing

    /// Validates `mutation`, assigns it the next version and applies it.
    public mutating func commit(_ mutation: Mutation) throws(DirectoryError) -> Change {
        try check(mutation)
        let next =
            epoch > version.epoch
            ? Version(epoch: epoch, index: 1)
            : Version(epoch: epoch, index: version.index + 1)
        let change = Change(version: next, mutation: mutation)
        perform(change)
        return change
    }

    /// Applies a change the directory committed. It must be newer than the current version
    /// and valid against the current state (otherwise this replica has diverged and needs a
    /// snapshot).
    public mutating func apply(_ change: Change) throws(DirectoryError) {
        guard change.version > version else {
            throw .staleVersion(current: version, received: change.version)
        }
        try check(change.mutation)
        perform(change)
    }

    /// Moves the version to `version` without changing anything: the store reported that no
    /// table changed up to it (continuous versions only, the same epoch, never backwards).
    public mutating func advance(to version: Version) throws(DirectoryError) {
        guard settings.continuousVersions, version.epoch == self.version.epoch, version >= self.version else {
            throw .staleVersion(current: self.version, received: version)
        }
        self.version = version
    }

    /// Starts a new epoch: the next commit gets `(epoch, 1)`. The epoch must be greater than
    /// every epoch used so far.
    public mutating func beginEpoch(_ epoch: UInt64) throws(DirectoryError) {
        guard epoch > self.epoch else { throw .staleEpoch(current: self.epoch, requested: epoch) }
        self.epoch = epoch
    }

    /// Validates a mutation against the current state without applying it.
    public func check(_ mutation: Mutation) throws(DirectoryError) {
        switch mutation {
        case .put(let id, let entry):
            guard let table = tables[id] else { throw .noSuchTableID(id) }
            try Validation.checkEntry(entry)
            if table[entry.key] == nil && table.count >= settings.maxEntriesPerTable {
                throw .tableFull(id)
            }
        case .delete(let id, let key):
            guard let table = tables[id] else { throw .noSuchTableID(id) }
            try Validation.checkKey(key)
            guard table[key] != nil else { throw .noSuchEntry(id, key: key) }
        case .createTable(let id, let name):
            try translation.checkRegister(id, name: name, maxTables: settings.maxTables)
        case .dropTable(let id):
            guard let table = tables[id] else { throw .noSuchTableID(id) }
            if TranslationTable.isReserved(id) { throw .standardTable(table.name) }
        case .batch(let operations):
            try checkBatch(operations)
        }
    }

    /// A batch is checked as if its operations were applied in order; since each key occurs
    /// once, each is checked against the state before the batch, with the entry counts the
    /// earlier operations leave.
    private func checkBatch(_ operations: [Mutation]) throws(DirectoryError) {
        try Limits.checkBatch(operations: operations.count, bytes: operations.reduce(0) { $0 + $1.batchBytes })
        var keys: [TableID: Set<String>] = [:]
        var added: [TableID: Int] = [:]
        for (index, operation) in operations.enumerated() {
            guard let id = operation.table, let key = operation.key else {
                throw .invalidBatch(.notAnEntryChange(index: index))
            }
            guard keys[id, default: []].insert(key).inserted else {
                throw .invalidBatch(.keyTwice(index: index, key: key))
            }
            do throws(DirectoryError) {
                guard let table = tables[id] else { throw .noSuchTableID(id) }
                switch operation {
                case .put(_, let entry):
                    try Validation.checkEntry(entry)
                    if table[entry.key] == nil {
                        guard table.count + added[id, default: 0] < settings.maxEntriesPerTable else {
                            throw .tableFull(id)
                        }
                        added[id, default: 0] += 1
                    }
                default:
                    try Validation.checkKey(key)
                    guard table[key] != nil else { throw .noSuchEntry(id, key: key) }
                    added[id, default: 0] -= 1
                }
            } catch {
                throw .inBatch(index: index, error)
            }
        }
    }

    private mutating func perform(_ change: Change) {
        switch change.mutation {
        case .put(let id, let entry):
            tables[id]?.put(entry)
        case .delete(let id, let key):
            tables[id]?.remove(key: key)
        case .createTable(let id, let name):
            translation.register(id, name: name)
            tables[id] = Table(id: id, name: name)
        case .dropTable(let id):
            translation.unregister(id)
            tables[id] = nil
        case .batch(let operations):
            for operation in operations {
                switch operation {
                case .put(let id, let entry): tables[id]?.put(entry)
                case .delete(let id, let key): tables[id]?.remove(key: key)
                case .createTable, .dropTable, .batch: continue  // refused by the check
                }
            }
        }
        version = change.version
        epoch = max(epoch, change.version.epoch)
        history.append(change)
    }
}
