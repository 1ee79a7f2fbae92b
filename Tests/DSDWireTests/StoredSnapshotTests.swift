import DSDCore
import DSDWire
import NIOCore
import Testing

/// `SnapshotTransfer.stored`: the blob the directory's log and the agent's cache keep.
@Suite struct StoredSnapshotTests {
    static func snapshot() throws -> Snapshot {
        var directory = Directory(epoch: 9, settings: .testing)
        let table = try directory.commit(try directory.mutation(forCreateTable: "STORED_T"))
        guard case .createTable(let id, _) = table.mutation else { throw StoredSnapshotError() }
        for i in 0..<700 {
            _ = try directory.commit(.put(id, Entry(key: "K.\(i)", value: "HOST\(i):\(i)", valid: i % 3 != 0)))
        }
        _ = try directory.commit(.put(StandardTable.metadata.id, Entry(key: "MDS.1", value: "16.7.13.1:1872")))
        return directory.snapshot()
    }

    struct StoredSnapshotError: Error {}

    @Test func roundTrips() throws {
        let snapshot = try Self.snapshot()
        #expect(try SnapshotTransfer.snapshot(stored: SnapshotTransfer.stored(snapshot)) == snapshot)
    }

    @Test func refusesTrailingBytesAndEveryTruncation() throws {
        let stored = try SnapshotTransfer.stored(Self.snapshot())
        var longer = stored
        longer.writeInteger(UInt8(0))
        #expect(throws: SnapshotTransfer.StoredSnapshotError.trailingBytes) {
            try SnapshotTransfer.snapshot(stored: longer)
        }
        let bytes = Array(stored.readableBytesView)
        for length in stride(from: 0, to: bytes.count, by: 97) {
            #expect(throws: (any Error).self) {
                try SnapshotTransfer.snapshot(stored: ByteBuffer(bytes: bytes.prefix(length)))
            }
        }
    }
}
