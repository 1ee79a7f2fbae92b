import DSDCore
import Testing

@testable import DSDEtcd
@testable import DSDServer

/// The directory's keys in etcd, its writes as transactions, and the watch's events read back
/// as changes: the pure half of `dsd server --etcd`.
@Suite struct EtcdLayoutTests {
    let layout = EtcdLayout(prefix: "/dsd/")
    let metadata = StandardTable.metadata.id
    let dynamic = TableID.firstDynamic

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func keysAreReadBackAsWhatTheyHold() {
        #expect(layout.classify(layout.entryKey(metadata, "MDS.1.1")) == .entry(metadata, key: "MDS.1.1"))
        #expect(layout.classify(layout.entryKey(dynamic, "a/b c")) == .entry(dynamic, key: "a/b c"))
        #expect(layout.classify(layout.tableKey(dynamic)) == .table(dynamic))
        #expect(layout.classify(layout.epochKey) == .epoch)
        #expect(layout.classify(layout.nextTableIDKey) == .nextTableID)
        #expect(layout.classify(layout.masterKey) == .other)
        #expect(layout.classify(bytes("/dsd/tables/x1")) == .other)
        #expect(layout.classify(bytes("/dsd/entries/12")) == .other, "an entry key needs a slash after the id")
        #expect(layout.classify(bytes("/other/entries/2/K")) == .other, "another prefix")
        #expect(layout.classify(bytes("/dsd/tables/99999999999")) == .other, "an id beyond 32 bits")
    }

    @Test func entryValuesCarryValidity() {
        let valid = Entry(key: "K", value: "HOST9:1872", valid: true)
        let invalid = Entry(key: "K", value: "HOST9:1872", valid: false)
        #expect(EtcdLayout.entry(key: "K", value: EtcdLayout.entryValue(valid)) == valid)
        #expect(EtcdLayout.entry(key: "K", value: EtcdLayout.entryValue(invalid)) == invalid)
        #expect(EtcdLayout.entry(key: "K", value: bytes("xHOST")) == nil)
        #expect(EtcdLayout.entry(key: "K", value: []) == nil)
    }

    @Test func aListingBecomesTheDirectoryItDescribes() throws {
        let kvs = [
            KeyValue(key: layout.epochKey, value: bytes("77")),
            KeyValue(key: layout.nextTableIDKey, value: bytes("1030")),
            KeyValue(key: layout.tableKey(TableID(1025)), value: bytes("PARTS")),
            KeyValue(key: layout.entryKey(TableID(1025), "P1"), value: bytes("1HOST1:1")),
            KeyValue(key: layout.entryKey(metadata, "MDS.1"), value: bytes("0HOST9:1872")),
            KeyValue(key: layout.entryKey(TableID(1099), "orphan"), value: bytes("1v")),
            KeyValue(key: layout.entryKey(metadata, "bad"), value: bytes("?")),
            KeyValue(key: layout.masterKey, value: bytes("S0")),
        ]
        var listing = EtcdListing(kvs, layout: layout)
        #expect(listing.epoch == 77)
        let snapshot = listing.snapshot(at: Version(epoch: 77, index: 40))
        let directory = try Directory(snapshot: snapshot)
        #expect(directory.version == Version(epoch: 77, index: 40))
        #expect(directory.entry(table: "PARTS", key: "P1") == Entry(key: "P1", value: "HOST1:1"))
        #expect(
            directory.entry(table: metadata, key: "MDS.1") == Entry(key: "MDS.1", value: "HOST9:1872", valid: false))
        #expect(directory.translation.nextDynamicID == TableID(1030))
        #expect(directory.entryCount == 2)
        #expect(listing.unreadable.count == 2, "the orphan and the bad value: \(listing.unreadable)")
    }

    // MARK: Transactions

    @Test func writesCompareWhatTheirCheckReliedOn() {
        let put = EtcdWrite(.put(dynamic, Entry(key: "K", value: "v")), layout: layout, fence: nil)
        #expect(put.compares == [.present(layout.tableKey(dynamic))])
        #expect(put.success == [.put(key: layout.entryKey(dynamic, "K"), value: bytes("1v"))])
        let standardPut = EtcdWrite(.put(metadata, Entry(key: "K", value: "v")), layout: layout, fence: nil)
        #expect(standardPut.compares.isEmpty, "a standard table always exists")

        let delete = EtcdWrite(.delete(metadata, key: "K"), layout: layout, fence: nil)
        #expect(delete.compares == [.present(layout.entryKey(metadata, "K"))])

        let first = EtcdWrite(.createTable(.firstDynamic, name: "T"), layout: layout, fence: nil)
        #expect(first.compares == [.absent(layout.nextTableIDKey)])
        let later = EtcdWrite(.createTable(TableID(1030), name: "T"), layout: layout, fence: nil)
        #expect(later.compares == [Compare(key: layout.nextTableIDKey, .value(bytes("1030")), .equal)])
        #expect(later.success.contains(.put(key: layout.nextTableIDKey, value: bytes("1031"))))

        let dropEmpty = EtcdWrite(.dropTable(dynamic), layout: layout, requireEmpty: true, fence: nil)
        #expect(dropEmpty.compares.contains(.noKey(withPrefix: layout.entriesPrefix(dynamic))))
        let drop = EtcdWrite(.dropTable(dynamic), layout: layout, fence: nil)
        #expect(drop.compares == [.present(layout.tableKey(dynamic))])
    }

    @Test func aFencedWriteIsRefusedOnceTheMasterKeyChanged() {
        let fenced = EtcdWrite(
            .put(metadata, Entry(key: "MDS.1", value: "HOST8:1")), layout: layout, fence: .init(masterRevision: 12))
        #expect(fenced.compares.last == Compare(key: layout.masterKey, .createRevision(12), .equal))
        let header = ResponseHeader(revision: 20)
        let otherMaster = RangeResponse(
            header: header, kvs: [KeyValue(key: layout.masterKey, createRevision: 15)], count: 1, more: false)
        #expect(fenced.refusal([.range(otherMaster)]) == .deposed)
        let noMaster = RangeResponse(header: header, kvs: [], count: 0, more: false)
        #expect(fenced.refusal([.range(noMaster)]) == .deposed)
        let stillMaster = RangeResponse(
            header: header, kvs: [KeyValue(key: layout.masterKey, createRevision: 12)], count: 1, more: false)
        #expect(fenced.refusal([.range(stillMaster)]) != .deposed, "still master: the refusal is the write's own")
    }

    @Test func aSequencedWriteCanBeSentTwice() {
        let key = layout.writerKey("S0-1f", 3)
        let sequence = EtcdWrite.Sequence(key: key, previous: 6, lease: 99)
        let write = EtcdWrite(.delete(metadata, key: "K"), layout: layout, fence: nil, sequence: sequence)
        #expect(write.compares.last == Compare(key: key, .value(bytes("6")), .equal))
        #expect(write.success.last == .put(key: key, value: bytes("7"), lease: 99))
        let header = ResponseHeader(revision: 30)
        // The first attempt committed (at 28): the second fails its compare and says so.
        let applied = RangeResponse(
            header: header, kvs: [KeyValue(key: key, value: bytes("7"), modRevision: 28)], count: 1, more: false)
        #expect(write.refusal([.range(applied)]) == .applied(revision: 28))
        // Not applied: the refusal is the write's own.
        let before = RangeResponse(
            header: header, kvs: [KeyValue(key: key, value: bytes("6"), modRevision: 20)], count: 1, more: false)
        #expect(write.refusal([.range(before)]) == .refused(.noSuchEntry(metadata, key: "K")))
        let first = EtcdWrite(
            .delete(metadata, key: "K"), layout: layout, fence: nil,
            sequence: .init(key: key, previous: 0, lease: 99))
        #expect(first.compares.last == .absent(key))
    }

    @Test func refusalsNameWhatFailed() {
        let header = ResponseHeader(revision: 9)
        let delete = EtcdWrite(.delete(metadata, key: "K"), layout: layout, fence: nil)
        #expect(delete.refusal([]) == .refused(.noSuchEntry(metadata, key: "K")))
        let create = EtcdWrite(.createTable(dynamic, name: "T"), layout: layout, fence: nil)
        #expect(create.refusal([]) == .retry)
        let drop = EtcdWrite(.dropTable(dynamic), layout: layout, requireEmpty: true, fence: nil)
        #expect(
            drop.refusal([.range(RangeResponse(header: header, kvs: [], count: 0, more: false))])
                == .refused(.noSuchTableID(dynamic)))
        #expect(drop.refusal([.range(RangeResponse(header: header, kvs: [], count: 1, more: false))]) == .notEmpty)
    }

    // MARK: Watch events

    func put(_ key: [UInt8], _ value: String, at revision: Int64) -> WatchEvent {
        WatchEvent(kind: .put, kv: KeyValue(key: key, value: bytes(value), modRevision: revision))
    }

    func delete(_ key: [UInt8], at revision: Int64) -> WatchEvent {
        WatchEvent(kind: .delete, kv: KeyValue(key: key, modRevision: revision))
    }

    @Test func eachRevisionIsOneChange() {
        let read = { (events: [WatchEvent], revision: Int64) in
            EtcdChangeReader.read(events, revision: revision, epoch: 3, layout: layout)
        }
        #expect(
            read([put(layout.entryKey(metadata, "K"), "0v", at: 5)], 5)
                == .change(
                    Change(
                        version: Version(epoch: 3, index: 5),
                        mutation: .put(metadata, Entry(key: "K", value: "v", valid: false)))))
        #expect(
            read([delete(layout.entryKey(metadata, "K"), at: 6)], 6)
                == .change(Change(version: Version(epoch: 3, index: 6), mutation: .delete(metadata, key: "K"))))
        #expect(
            read([put(layout.tableKey(dynamic), "T", at: 7), put(layout.nextTableIDKey, "1025", at: 7)], 7)
                == .change(Change(version: Version(epoch: 3, index: 7), mutation: .createTable(dynamic, name: "T"))))
        // A drop deletes the entries and the name at one revision: one change.
        #expect(
            read(
                [
                    delete(layout.entryKey(dynamic, "a"), at: 8), delete(layout.entryKey(dynamic, "b"), at: 8),
                    delete(layout.tableKey(dynamic), at: 8),
                ], 8) == .change(Change(version: Version(epoch: 3, index: 8), mutation: .dropTable(dynamic))))
        #expect(read([put(layout.masterKey, "S1", at: 9)], 9) == .none)
        #expect(read([put(layout.entryKey(metadata, "K"), "bad", at: 10)], 10) == .unreadable("/dsd/entries/2/K"))
        // Entry changes at one revision are a batch; with a table change they are not dsd's.
        #expect(
            read(
                [put(layout.entryKey(metadata, "A"), "1v", at: 11), delete(layout.entryKey(metadata, "B"), at: 11)],
                11)
                == .change(
                    Change(
                        version: Version(epoch: 3, index: 11),
                        mutation: .batch([
                            .put(metadata, Entry(key: "A", value: "v")), .delete(metadata, key: "B"),
                        ]))))
        #expect(
            read([put(layout.tableKey(dynamic), "T", at: 12), put(layout.entryKey(metadata, "B"), "1v", at: 12)], 12)
                == .relist, "a table change and an entry change at one revision cannot both have it as their version")
    }

    @Test func eventsSplitByRevisionInOrder() {
        let events = [
            put(layout.entryKey(metadata, "A"), "1v", at: 4), put(layout.entryKey(metadata, "B"), "1v", at: 4),
            put(layout.masterKey, "S", at: 5), delete(layout.entryKey(metadata, "A"), at: 6),
        ]
        let runs = EtcdChangeReader.byRevision(events)
        #expect(runs.map(\.revision) == [4, 5, 6])
        #expect(runs.map(\.events.count) == [2, 1, 1])
    }
}

/// Continuous versions: a revision between two changes names the state after the first.
@Suite struct ContinuousHistoryTests {
    let table = StandardTable.metadata.id

    @Test func anyRevisionSinceTheBaseGetsADelta() throws {
        let settings = Directory.Settings(retainedChanges: 4, continuousVersions: true)
        var directory = try Directory(
            snapshot: Snapshot(version: Version(epoch: 2, index: 10), nextDynamicID: .firstDynamic, tables: []),
            settings: settings)
        try directory.advance(to: Version(epoch: 2, index: 12))
        let change = Change(version: Version(epoch: 2, index: 15), mutation: .put(table, Entry(key: "K", value: "v")))
        try directory.apply(change)
        try directory.advance(to: Version(epoch: 2, index: 20))
        #expect(directory.changes(after: Version(epoch: 2, index: 10)) == .changes([change]))
        #expect(
            directory.changes(after: Version(epoch: 2, index: 13)) == .changes([change]),
            "a revision that changed no table")
        #expect(directory.changes(after: Version(epoch: 2, index: 15)) == .upToDate)
        #expect(directory.changes(after: Version(epoch: 2, index: 18)) == .upToDate)
        #expect(directory.changes(after: Version(epoch: 2, index: 20)) == .upToDate)
        #expect(directory.changes(after: Version(epoch: 2, index: 9)) == .snapshotNeeded, "before the base")
        #expect(directory.changes(after: Version(epoch: 2, index: 21)) == .snapshotNeeded, "ahead of this copy")
        #expect(directory.changes(after: Version(epoch: 1, index: 12)) == .snapshotNeeded, "another history")
        #expect(throws: DirectoryError.self) { try directory.advance(to: Version(epoch: 2, index: 19)) }
    }

    @Test func theLogKeepsExactBoundaries() throws {
        var directory = Directory(epoch: 2, settings: .init(retainedChanges: 4))
        _ = try directory.commit(.put(table, Entry(key: "K", value: "v")))
        #expect(directory.changes(after: Version(epoch: 2, index: 0)) != .snapshotNeeded)
        #expect(throws: DirectoryError.self) { try directory.advance(to: Version(epoch: 2, index: 5)) }
    }
}
