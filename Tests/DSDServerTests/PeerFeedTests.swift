import DSDCore
import DSDWire
import NIOCore
import Testing

@testable import DSDServer

/// The replication feed of one peer, driven with a real `Directory` and explicit durability.
@Suite struct PeerFeedTests {
    let table = StandardTable.metadata.id

    /// A directory with `count` committed puts (keys K1…Kcount) and the changes they made.
    func directory(puts count: Int, retained: Int = 16) throws -> (Directory, [Change]) {
        var directory = Directory(epoch: 7, settings: .init(retainedChanges: retained))
        var changes: [Change] = []
        for i in 1...count {
            changes.append(try directory.commit(.put(table, Entry(key: "K\(i)", value: "HOST\(i):1"))))
        }
        return (directory, changes)
    }

    func sent(_ directives: [PeerFeed.Directive], batch: [Change]) -> [Version] {
        directives.flatMap { directive -> [Version] in
            switch directive {
            case .send(let messages):
                return messages.compactMap { if case .change(let change) = $0 { change.version } else { nil } }
            case .sendAllDurable:
                return batch.map(\.version)
            case .sendSnapshot(let snapshot):
                return [snapshot.version]
            }
        }
    }

    @Test func nothingIsSentBeforeThePeerAsks() throws {
        let (directory, changes) = try directory(puts: 3)
        var feed = PeerFeed()
        #expect(feed.onDurable(changes, directory: directory, durable: changes[2].version, writable: true).isEmpty)
        #expect(feed.state == .idle)
    }

    @Test func aPeerWithNothingGetsASnapshotOnlyOnceItIsDurable() throws {
        let (directory, changes) = try directory(puts: 3)
        var feed = PeerFeed()
        // Only the first change is durable: the snapshot (at version 3) waits.
        #expect(feed.onSync(from: nil, directory: directory, durable: changes[0].version, writable: true).isEmpty)
        guard case .snapshotPending(let pending) = feed.state else {
            Issue.record("expected a pending snapshot, got \(feed.state)")
            return
        }
        #expect(pending.version == changes[2].version)
        // Versions 2 and 3 become durable: the snapshot goes out, nothing after it is repeated.
        let directives = feed.onDurable(
            Array(changes[1...]), directory: directory, durable: changes[2].version, writable: true)
        #expect(directives == [.sendSnapshot(pending)])
        #expect(feed.state == .streaming(sent: changes[2].version))
    }

    @Test func aStreamingPeerGetsTheWholeDurableBatchAsOneSharedDirective() throws {
        let (directory, changes) = try directory(puts: 4)
        var feed = PeerFeed()
        _ = feed.onSync(from: changes[1].version, directory: directory, durable: changes[1].version, writable: true)
        #expect(feed.state == .streaming(sent: changes[1].version))
        let batch = Array(changes[2...])
        let directives = feed.onDurable(batch, directory: directory, durable: changes[3].version, writable: true)
        #expect(directives == [.sendAllDurable])
        #expect(feed.state == .streaming(sent: changes[3].version))
    }

    @Test func aBatchPartlySentOrNotYetDurableIsTrimmed() throws {
        let (directory, changes) = try directory(puts: 5)
        var feed = PeerFeed()
        // The peer already has version 2; the batch holds 1…4 and only 1…3 are durable.
        _ = feed.onSync(from: changes[1].version, directory: directory, durable: changes[1].version, writable: true)
        let batch = Array(changes[0...3])
        let directives = feed.onDurable(batch, directory: directory, durable: changes[2].version, writable: true)
        #expect(sent(directives, batch: batch) == [changes[2].version])
        #expect(directives != [.sendAllDurable])
    }

    @Test func aPeerThatStopsReadingStallsAndResumesByDelta() throws {
        let (directory, changes) = try directory(puts: 6)
        var feed = PeerFeed()
        _ = feed.onSync(from: changes[0].version, directory: directory, durable: changes[0].version, writable: true)
        // Not writable: nothing is buffered for it.
        let stalled = feed.onDurable(
            Array(changes[1...2]), directory: directory, durable: changes[2].version, writable: false)
        #expect(stalled.isEmpty)
        #expect(feed.state == .stalled(sent: changes[0].version))
        #expect(feed.onDurable([changes[3]], directory: directory, durable: changes[3].version, writable: true).isEmpty)
        // Drained: everything durable after what it was sent, once, in order.
        let resumed = feed.onWritable(directory: directory, durable: changes[4].version)
        #expect(sent(resumed, batch: []) == changes[1...4].map(\.version))
        #expect(feed.state == .streaming(sent: changes[4].version))
    }

    @Test func aPeerTooFarBehindResumesWithASnapshot() throws {
        var (directory, first) = try directory(puts: 10, retained: 8)
        var feed = PeerFeed()
        _ = feed.onSync(from: first[9].version, directory: directory, durable: first[9].version, writable: true)
        #expect(feed.state == .streaming(sent: first[9].version))
        // 30 more changes while the peer does not read: it falls out of the 8 retained.
        var later: [Change] = []
        for i in 11...40 {
            later.append(try directory.commit(.put(table, Entry(key: "K\(i)", value: "HOST\(i):1"))))
        }
        #expect(feed.onDurable(later, directory: directory, durable: later[29].version, writable: false).isEmpty)
        #expect(feed.state == .stalled(sent: first[9].version))
        let resumed = feed.onWritable(directory: directory, durable: later[29].version)
        guard case .sendSnapshot(let snapshot)? = resumed.first, resumed.count == 1 else {
            Issue.record("expected one snapshot, got \(resumed)")
            return
        }
        #expect(snapshot.version == later[29].version)
        #expect(feed.state == .streaming(sent: later[29].version))
    }

    @Test func aPeerUpToDateGetsNothingUntilTheNextChange() throws {
        let (directory, changes) = try directory(puts: 2)
        var feed = PeerFeed()
        #expect(
            feed.onSync(from: changes[1].version, directory: directory, durable: changes[1].version, writable: true)
                .isEmpty)
        #expect(feed.state == .streaming(sent: changes[1].version))
    }
}

/// `PushBatch` pushes the changes' log records as their frames.
@Suite struct PushBatchTests {
    @Test func framesAreTheLogRecordsWhichAreEachChangesFrame() throws {
        var directory = Directory(epoch: 3, settings: .testing)
        var changes: [Change] = []
        for i in 1...5 {
            changes.append(
                try directory.commit(.put(StandardTable.gateway.id, Entry(key: "GW.\(i)", value: "HOST\(i):1700"))))
        }
        changes.append(try directory.commit(.delete(StandardTable.gateway.id, key: "GW.2")))
        let batch = PushBatch(changes: changes, records: try changes.map { try LogCodec.encode($0) })
        var expected = ByteBufferAllocator().buffer(capacity: 0)
        for change in changes { _ = try expected.writeFrame(.change(change)) }
        #expect(batch.frames == expected)
        // Decoded back, in order.
        var reader = batch.frames
        var decoded: [Change] = []
        while let message = try reader.readFrame(maxBytes: WireLimits.maxFrameBytes) {
            if case .change(let change) = message { decoded.append(change) }
        }
        #expect(decoded == changes)
    }
}
