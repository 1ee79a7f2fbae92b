import Testing

@testable import DSDCore

@Suite struct DirectoryTests {
    @Test func newDirectoryHasStandardTables() {
        let directory = Directory(epoch: 3, settings: .testing)
        #expect(directory.version == Version(epoch: 3, index: 0))
        #expect(directory.tableCount == StandardTable.allCases.count)
        for table in StandardTable.allCases {
            #expect(directory.table(named: table.name)?.id == table.id)
            #expect(directory.translation.name(of: table.id) == table.name)
        }
        #expect(directory.translation.nextDynamicID == .firstDynamic)
    }

    @Test func commitAssignsConsecutiveVersions() throws {
        var directory = Directory(epoch: 1, settings: .testing)
        let a = try put(&directory, .metadata, "MDS.6", "HOST6:1920")
        // An identical put still commits.
        let b = try put(&directory, .metadata, "MDS.6", "HOST6:1920")
        #expect(a.version == Version(epoch: 1, index: 1))
        #expect(b.version == Version(epoch: 1, index: 2))
        #expect(directory.version == b.version)
        #expect(directory.entry(table: "DSD_MTID_METADATA", key: "MDS.6")?.value == "HOST6:1920")
    }

    @Test func searchByName() throws {
        let directory = try figureDirectory()
        #expect(
            try directory.search(table: "DSD_MTID_METADATA", prefix: "MDS.1.").map(\.key) == [
                "MDS.1.0", "MDS.1.1",
            ])
        #expect(try directory.search(table: "DSD_HOST_ROUTE", prefix: "").count == 7)
        #expect(throws: DirectoryError.noSuchTable("NOPE")) {
            try directory.search(table: "NOPE", prefix: "")
        }
    }

    @Test func rejectedMutationsChangeNothing() throws {
        var directory = Directory(epoch: 1, settings: .testing)
        let before = directory.snapshot()
        #expect(throws: DirectoryError.noSuchTableID(TableID(999))) {
            try directory.commit(.put(TableID(999), Entry(key: "k", value: "v")))
        }
        #expect(throws: DirectoryError.invalidKey(.forbiddenCharacter("/"))) {
            try directory.commit(.put(StandardTable.gateway.id, Entry(key: "a/b", value: "v")))
        }
        #expect(throws: DirectoryError.invalidValue(.forbiddenCharacter(" "))) {
            try directory.commit(.put(StandardTable.gateway.id, Entry(key: "k", value: "a b")))
        }
        #expect(throws: DirectoryError.noSuchEntry(StandardTable.gateway.id, key: "GW.9")) {
            try directory.commit(.delete(StandardTable.gateway.id, key: "GW.9"))
        }
        #expect(throws: DirectoryError.noSuchTableID(TableID(5000))) {
            try directory.commit(.delete(TableID(5000), key: "k"))
        }
        #expect(throws: DirectoryError.standardTable("DSD_HOST_ROUTE")) {
            try directory.commit(.dropTable(StandardTable.hostRoute.id))
        }
        #expect(throws: DirectoryError.tableExists("DSD_MI")) {
            try directory.commit(.createTable(TableID(1024), name: "DSD_MI"))
        }
        #expect(throws: DirectoryError.tableIDUnavailable(TableID(9))) {
            try directory.commit(.createTable(TableID(9), name: "LOW"))
        }
        #expect(throws: DirectoryError.invalidTableName(.forbiddenCharacter("/"))) {
            try directory.commit(.createTable(TableID(1024), name: "A/B"))
        }
        #expect(directory.snapshot() == before)
    }

    @Test func mutationBuilders() throws {
        var directory = Directory(epoch: 1, settings: .testing)
        let create = try directory.mutation(forCreateTable: "APP")
        #expect(create == .createTable(.firstDynamic, name: "APP"))
        _ = try directory.commit(create)
        #expect(throws: DirectoryError.tableExists("APP")) {
            try directory.mutation(forCreateTable: "APP")
        }
        #expect(
            try directory.mutation(forCreateTable: "APP2")
                == .createTable(TableID(1025), name: "APP2"))

        let putM = try directory.mutation(forPut: "APP", entry: Entry(key: "k", value: "v"))
        #expect(putM == .put(.firstDynamic, Entry(key: "k", value: "v")))
        _ = try directory.commit(putM)
        #expect(
            try directory.mutation(forDelete: "APP", key: "k") == .delete(.firstDynamic, key: "k"))
        #expect(throws: DirectoryError.noSuchEntry(.firstDynamic, key: "zz")) {
            try directory.mutation(forDelete: "APP", key: "zz")
        }
        #expect(throws: DirectoryError.noSuchTable("NOPE")) {
            try directory.mutation(forPut: "NOPE", entry: Entry(key: "k", value: "v"))
        }
        #expect(throws: DirectoryError.standardTable("DSD_MTID_BSS")) {
            try directory.mutation(forDropTable: "DSD_MTID_BSS")
        }
        _ = try directory.commit(try directory.mutation(forDropTable: "APP"))
        #expect(directory.table(named: "APP") == nil)
        // The dropped table's name may come back, but never its id.
        let again = try directory.mutation(forCreateTable: "APP")
        #expect(again == .createTable(TableID(1025), name: "APP"))
        #expect(throws: DirectoryError.tableIDUnavailable(.firstDynamic)) {
            try directory.commit(.createTable(.firstDynamic, name: "OLD"))
        }
    }

    @Test func applyRequiresNewerVersions() throws {
        var source = Directory(epoch: 1, settings: .testing)
        var replica = Directory(epoch: 1, settings: .testing)
        let a = try put(&source, .gateway, "GW.1", "HOST2:1700")
        let b = try put(&source, .gateway, "GW.1", "HOST3:1700")
        try replica.apply(a)
        #expect(throws: DirectoryError.staleVersion(current: a.version, received: a.version)) {
            try replica.apply(a)
        }
        try replica.apply(b)
        #expect(replica.snapshot() == source.snapshot())
        #expect(replica.changes(after: a.version) == .changes([b]))
    }

    @Test func changesAfterVersion() throws {
        var directory = Directory(epoch: 1, settings: Directory.Settings(retainedChanges: 3))
        var changes: [Change] = []
        for i in 0..<5 { changes.append(try put(&directory, .bss, "BSS.\(i)", "HOST1:1900")) }
        #expect(directory.changes(after: changes[4].version) == .upToDate)
        #expect(directory.changes(after: changes[3].version) == .changes([changes[4]]))
        #expect(directory.changes(after: changes[1].version) == .changes(Array(changes[2...])))
        #expect(directory.oldestRetainedVersion == changes[1].version)
        // Older than retained, newer than current, from an unknown epoch, or the zero version.
        #expect(directory.changes(after: changes[0].version) == .snapshotNeeded)
        #expect(directory.changes(after: Version(epoch: 1, index: 6)) == .snapshotNeeded)
        #expect(directory.changes(after: Version(epoch: 0, index: 3)) == .snapshotNeeded)
        #expect(directory.changes(after: .zero) == .snapshotNeeded)
    }

    @Test func freshDirectoryServesItsInitialVersion() {
        let directory = Directory(epoch: 4, settings: .testing)
        #expect(directory.changes(after: Version(epoch: 4, index: 0)) == .upToDate)
        #expect(directory.changes(after: .zero) == .snapshotNeeded)
    }

    @Test func zeroRetentionNeedsSnapshotsForAnyOlderVersion() throws {
        var directory = Directory(epoch: 1, settings: Directory.Settings(retainedChanges: 0))
        let a = try put(&directory, .bss, "BSS.1", "H:1")
        _ = try put(&directory, .bss, "BSS.2", "H:1")
        #expect(directory.changes(after: a.version) == .snapshotNeeded)
        #expect(directory.changes(after: directory.version) == .upToDate)
    }

    @Test func newEpochContinuesTheHistory() throws {
        var directory = Directory(epoch: 1, settings: .testing)
        let last = try put(&directory, .gateway, "GW.1", "HOST2:1700")
        try directory.beginEpoch(2)
        #expect(directory.version == last.version)
        #expect(directory.changes(after: last.version) == .upToDate)
        let first = try put(&directory, .gateway, "GW.1", "HOST3:1700")
        #expect(first.version == Version(epoch: 2, index: 1))
        // A replica at the previous epoch's last version gets a delta across the boundary.
        #expect(directory.changes(after: last.version) == .changes([first]))
        // A version the old epoch never reached in this history is not provable.
        #expect(directory.changes(after: Version(epoch: 1, index: 2)) == .snapshotNeeded)
        #expect(throws: DirectoryError.staleEpoch(current: 2, requested: 2)) {
            try directory.beginEpoch(2)
        }
    }

    @Test func replicaFollowsEpochChange() throws {
        var source = Directory(epoch: 1, settings: .testing)
        var replica = Directory(epoch: 1, settings: .testing)
        try replica.apply(try put(&source, .gateway, "GW.1", "HOST2:1700"))
        try source.beginEpoch(7)
        let next = try put(&source, .gateway, "GW.2", "HOST2:1701")
        guard case .changes(let delta) = source.changes(after: replica.version) else {
            Issue.record("expected a delta")
            return
        }
        for change in delta { try replica.apply(change) }
        #expect(replica.snapshot() == source.snapshot())
        #expect(replica.epoch == 7)
        #expect(replica.version == next.version)
    }

    @Test func tableFullAndTooManyTablesAreChecked() throws {
        // The limits are large; check the rule against a translation table at the limit.
        var translation = TranslationTable()
        var id = TableID.firstDynamic
        while translation.count < Limits.maxTables {
            try translation.checkRegister(id, name: "T\(id.rawValue)")
            translation.register(id, name: "T\(id.rawValue)")
            id = TableID(id.rawValue + 1)
        }
        #expect(throws: DirectoryError.tooManyTables) {
            try translation.checkRegister(id, name: "ONE_MORE")
        }
        translation.unregister(TableID.firstDynamic)
        try translation.checkRegister(id, name: "ONE_MORE")
        #expect(throws: DirectoryError.tableIDUnavailable(TableID(UInt32.max))) {
            try translation.checkRegister(TableID(UInt32.max), name: "LAST")
        }
    }

    @Test func sizeLimitsFromSettings() throws {
        let settings = Directory.Settings(
            retainedChanges: 4, maxTables: StandardTable.allCases.count + 1, maxEntriesPerTable: 2)
        var directory = Directory(epoch: 1, settings: settings)
        try put(&directory, .gateway, "GW.1", "H:1")
        try put(&directory, .gateway, "GW.2", "H:1")
        #expect(throws: DirectoryError.tableFull(StandardTable.gateway.id)) {
            try put(&directory, .gateway, "GW.3", "H:1")
        }
        // Replacing an entry of a full table is fine.
        try put(&directory, .gateway, "GW.2", "H:2")
        _ = try directory.commit(try directory.mutation(forCreateTable: "ONE"))
        #expect(throws: DirectoryError.tooManyTables) {
            try directory.mutation(forCreateTable: "TWO")
        }
        // A snapshot bigger than the limits is refused.
        var big = directory.snapshot()
        big.tables[0].entries.append(Entry(key: "GW.9", value: "H:9"))
        #expect(throws: DirectoryError.tableFull(StandardTable.gateway.id)) {
            try Directory(snapshot: big, settings: settings)
        }
    }

    @Test func mutationAccessors() {
        let entry = Entry(key: "k", value: "v")
        #expect(Mutation.put(TableID(3), entry).table == TableID(3))
        #expect(Mutation.put(TableID(3), entry).key == "k")
        #expect(Mutation.delete(TableID(4), key: "d").key == "d")
        #expect(Mutation.createTable(TableID(1024), name: "X").key == nil)
        #expect(Mutation.dropTable(TableID(1024)).table == TableID(1024))
    }
}
