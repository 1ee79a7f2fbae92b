import Testing

@testable import DSDCore

/// `Mutation.batch`: puts and deletes applied all or none under one version.
@Suite struct BatchTests {
    static let metadata = StandardTable.metadata.id

    static func put(_ key: String, _ value: String = "HOST1:1872") -> Mutation {
        .put(metadata, Entry(key: key, value: value))
    }

    @Test func aBatchCommitsUnderOneVersion() throws {
        var directory = Directory(epoch: 1, settings: .testing)
        try BatchTests.seed(&directory)
        let change = try directory.commit(.batch([Self.put("MDS.2.0"), .delete(Self.metadata, key: "MDS.1.0")]))
        #expect(change.version == Version(epoch: 1, index: 2))
        #expect(directory.entry(table: Self.metadata, key: "MDS.2.0") != nil)
        #expect(directory.entry(table: Self.metadata, key: "MDS.1.0") == nil)
        // A replica applies it as one change.
        var replica = Directory(epoch: 1, settings: .testing)
        try BatchTests.seed(&replica)
        try replica.apply(change)
        #expect(replica.entry(table: Self.metadata, key: "MDS.2.0") != nil)
        #expect(replica.version == change.version)
    }

    static func seed(_ directory: inout Directory) throws {
        _ = try directory.commit(put("MDS.1.0"))
    }

    @Test func aRefusedOperationLeavesEverythingAsItWas() throws {
        var directory = Directory(epoch: 1, settings: .testing)
        try Self.seed(&directory)
        let before = directory.version
        let batch = Mutation.batch([Self.put("MDS.3.0"), .delete(Self.metadata, key: "MDS.9.9"), Self.put("MDS.4.0")])
        #expect(throws: DirectoryError.inBatch(index: 1, .noSuchEntry(Self.metadata, key: "MDS.9.9"))) {
            try directory.commit(batch)
        }
        #expect(directory.version == before)
        #expect(directory.entry(table: Self.metadata, key: "MDS.3.0") == nil)
        #expect(throws: DirectoryError.inBatch(index: 0, .noSuchTableID(TableID(999)))) {
            try directory.commit(.batch([.put(TableID(999), Entry(key: "K", value: "V"))]))
        }
        #expect(throws: DirectoryError.inBatch(index: 1, .invalidValue(.forbiddenCharacter(" ")))) {
            try directory.commit(.batch([Self.put("A"), Self.put("B", "HOST 1")]))
        }
    }

    @Test func aBatchIsBoundedAndHoldsEntryChangesOfDistinctKeys() {
        let directory = Directory(epoch: 1, settings: .testing)
        #expect(throws: DirectoryError.invalidBatch(.empty)) { try directory.check(.batch([])) }
        #expect(throws: DirectoryError.invalidBatch(.keyTwice(index: 2, key: "A"))) {
            try directory.check(.batch([Self.put("A"), Self.put("B"), .delete(Self.metadata, key: "A")]))
        }
        #expect(throws: DirectoryError.invalidBatch(.notAnEntryChange(index: 1))) {
            try directory.check(.batch([Self.put("A"), .createTable(.firstDynamic, name: "T")]))
        }
        let many = (0...Limits.maxBatchOperations).map { Self.put("K\($0)") }
        #expect(throws: DirectoryError.invalidBatch(.tooManyOperations(Limits.maxBatchOperations + 1))) {
            try directory.check(.batch(many))
        }
        let value = String(repeating: "v", count: Limits.maxValueBytes)
        let large = (0..<600).map { Self.put("K\($0)", value) }
        #expect(throws: DirectoryError.self) { try directory.check(.batch(large)) }
    }

    @Test func aBatchCountsItsNewEntriesAgainstTheTableLimit() throws {
        var directory = Directory(
            epoch: 1, settings: Directory.Settings(retainedChanges: 16, maxEntriesPerTable: 3))
        try Self.seed(&directory)
        // Replacing an entry adds none; two new ones fill the table.
        _ = try directory.commit(.batch([Self.put("MDS.1.0", "HOST2:1"), Self.put("A"), Self.put("B")]))
        #expect(throws: DirectoryError.inBatch(index: 2, .tableFull(Self.metadata))) {
            try directory.commit(.batch([.delete(Self.metadata, key: "A"), Self.put("C"), Self.put("D")]))
        }
        _ = try directory.commit(.batch([.delete(Self.metadata, key: "A"), Self.put("C")]))
        #expect(directory.table(Self.metadata)?.count == 3)
    }

    @Test func theHistoryCountsABatchAsItsOperations() throws {
        var directory = Directory(epoch: 1, settings: Directory.Settings(retainedChanges: 10))
        let first = try directory.commit(Self.put("A"))
        let batch = try directory.commit(.batch((0..<6).map { Self.put("B\($0)") }))
        // 1 + 6 operations fit 10: a replica at the first change gets a delta.
        #expect(directory.changes(after: first.version) == .changes([batch]))
        let second = try directory.commit(.batch((0..<6).map { Self.put("C\($0)") }))
        // 13 operations do not: the oldest changes are evicted, the boundary moves.
        #expect(directory.changes(after: first.version) == .snapshotNeeded)
        #expect(directory.changes(after: batch.version) == .changes([second]))
        // A batch larger than the whole history is still kept.
        let huge = try directory.commit(.batch((0..<20).map { Self.put("D\($0)") }))
        #expect(directory.changes(after: second.version) == .changes([huge]))
    }

    @Test func aPromotionFollowsAnyInstanceABatchTouches() throws {
        var directory = Directory(epoch: 1, settings: .testing)
        _ = try directory.commit(Self.put("MDS.1.0", "HOSTA:1"))
        _ = try directory.commit(Self.put("MDS.1.1", "HOSTB:1"))
        _ = try directory.commit(Self.put("MDS.1", "HOSTA:1"))
        let before = directory
        let failed = Mutation.batch([
            .put(Self.metadata, Entry(key: "MDS.1.0", value: "HOSTA:1", valid: false)), Self.put("OTHER.1"),
        ])
        let change = try directory.commit(failed)
        let decided = Promotion.decide(before: before, after: directory, change: change)
        #expect(decided == [.put(Self.metadata, Entry(key: "MDS.1", value: "HOSTB:1"))])
    }
}
