/// The complete state of a directory at one version: what a replica loads when a delta cannot
/// bring it up to date, and what the log writes to compact itself.
public struct Snapshot: Hashable, Sendable {
    /// One table and its entries in key order.
    public struct TableContents: Hashable, Sendable {
        public var id: TableID
        public var name: String
        public var entries: [Entry]

        public init(id: TableID, name: String, entries: [Entry]) {
            self.id = id
            self.name = name
            self.entries = entries
        }
    }

    public var version: Version
    /// The translation table's id counter, so that restored directories never reuse an id.
    public var nextDynamicID: TableID
    /// Every table, ordered by id.
    public var tables: [TableContents]

    public init(version: Version, nextDynamicID: TableID, tables: [TableContents]) {
        self.version = version
        self.nextDynamicID = nextDynamicID
        self.tables = tables
    }
}

extension Directory {
    /// The current state.
    public func snapshot() -> Snapshot {
        Snapshot(
            version: version,
            nextDynamicID: translation.nextDynamicID,
            tables: tables.values.sorted { $0.id < $1.id }.map {
                Snapshot.TableContents(id: $0.id, name: $0.name, entries: $0.allEntries)
            })
    }

    /// A directory holding exactly the snapshot's state, with no retained changes: its
    /// snapshot version is the only boundary it can serve deltas from. Standard tables missing
    /// from the snapshot are added empty. Every name, key and value is validated, since
    /// snapshots arrive over the network and from disk.
    public init(snapshot: Snapshot, settings: Settings = .default) throws(DirectoryError) {
        var translation = TranslationTable()
        var tables: [TableID: Table] = [:]
        for table in StandardTable.allCases {
            tables[table.id] = Table(id: table.id, name: table.name)
        }
        var seenIDs: Set<TableID> = []
        for contents in snapshot.tables.sorted(by: { $0.id < $1.id }) {
            guard seenIDs.insert(contents.id).inserted else {
                throw .inconsistentSnapshot("table id \(contents.id) appears twice")
            }
            if TranslationTable.isReserved(contents.id) {
                guard translation.name(of: contents.id) == contents.name else {
                    throw .inconsistentSnapshot("reserved id \(contents.id) named \(contents.name)")
                }
            } else {
                guard contents.id < snapshot.nextDynamicID else {
                    throw .inconsistentSnapshot("table id \(contents.id) not below the id counter")
                }
                try translation.checkRegister(
                    contents.id, name: contents.name, maxTables: settings.maxTables)
                translation.register(contents.id, name: contents.name)
            }
            var table = Table(id: contents.id, name: contents.name)
            for entry in contents.entries {
                try Validation.checkEntry(entry)
                guard table.put(entry) == nil else {
                    throw .inconsistentSnapshot(
                        "key \(entry.key) appears twice in \(contents.name)")
                }
            }
            guard table.count <= settings.maxEntriesPerTable else { throw .tableFull(contents.id) }
            tables[contents.id] = table
        }
        translation.restoreNextDynamicID(snapshot.nextDynamicID)
        self.init(
            restoring: snapshot.version, translation: translation, tables: tables,
            settings: settings)
    }
}
