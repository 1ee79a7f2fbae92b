import Testing

@testable import DSDCore

@Suite struct SnapshotTests {
    @Test func roundTrip() throws {
        var directory = try figureDirectory()
        _ = try directory.commit(try directory.mutation(forCreateTable: "APP"))
        _ = try directory.commit(try directory.mutation(forCreateTable: "GONE"))
        _ = try directory.commit(
            try directory.mutation(forPut: "APP", entry: Entry(key: "x", value: "1", valid: false)))
        _ = try directory.commit(try directory.mutation(forDropTable: "GONE"))
        let snapshot = directory.snapshot()
        let restored = try Directory(snapshot: snapshot, settings: .testing)
        #expect(restored.snapshot() == snapshot)
        #expect(restored.version == directory.version)
        #expect(restored.translation == directory.translation)
        // The id counter survives, so the dropped table's id is not reused.
        #expect(
            try restored.mutation(forCreateTable: "NEW") == .createTable(TableID(1026), name: "NEW")
        )
        // A restored directory serves deltas from its snapshot version only.
        #expect(restored.changes(after: snapshot.version) == .upToDate)
        #expect(restored.changes(after: Version(epoch: 1, index: 1)) == .snapshotNeeded)
    }

    @Test func restoredReplicaContinues() throws {
        var source = try figureDirectory()
        var replica = try Directory(snapshot: source.snapshot(), settings: .testing)
        let change = try put(&source, .gateway, "GW.2", "HOST3:1700")
        try replica.apply(change)
        #expect(replica.snapshot() == source.snapshot())
        #expect(replica.changes(after: source.snapshot().version) == .upToDate)
    }

    @Test func missingStandardTablesAreAdded() throws {
        let snapshot = Snapshot(
            version: Version(epoch: 2, index: 5), nextDynamicID: .firstDynamic, tables: [])
        let directory = try Directory(snapshot: snapshot, settings: .testing)
        #expect(directory.tableCount == StandardTable.allCases.count)
        #expect(directory.epoch == 2)
    }

    @Test func inconsistentSnapshotsAreRefused() {
        let v = Version(epoch: 1, index: 1)
        func restore(_ tables: [Snapshot.TableContents], next: TableID = TableID(2000)) throws {
            _ = try Directory(snapshot: Snapshot(version: v, nextDynamicID: next, tables: tables))
        }
        let app = Snapshot.TableContents(id: TableID(1500), name: "APP", entries: [])
        #expect(throws: DirectoryError.self) { try restore([app, app]) }
        #expect(throws: DirectoryError.self) { try restore([app], next: TableID(1500)) }
        #expect(throws: DirectoryError.self) {
            try restore([Snapshot.TableContents(id: TableID(3), name: "WRONG", entries: [])])
        }
        #expect(throws: DirectoryError.tableExists("APP")) {
            try restore([app, Snapshot.TableContents(id: TableID(1600), name: "APP", entries: [])])
        }
        let e = Entry(key: "k", value: "v")
        #expect(throws: DirectoryError.self) {
            try restore([Snapshot.TableContents(id: TableID(1500), name: "APP", entries: [e, e])])
        }
        #expect(throws: DirectoryError.invalidKey(.dotName)) {
            try restore([
                Snapshot.TableContents(
                    id: TableID(1500), name: "APP", entries: [Entry(key: "..", value: "v")])
            ])
        }
    }
}
