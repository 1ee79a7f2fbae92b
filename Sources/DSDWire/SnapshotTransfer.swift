import DSDCore
import NIOCore

/// Turns a snapshot into the messages of a transfer, and assembles them back.
///
/// A transfer is `snapshotBegin`, then every table as one or more `snapshotTable` chunks, then
/// `snapshotEnd`. Used both on the wire (directory → agent) and in the directory's log.
public enum SnapshotTransfer {
    public static func messages(for snapshot: Snapshot) -> [Message] {
        var messages: [Message] = [
            .snapshotBegin(version: snapshot.version, tableCount: UInt32(snapshot.tables.count))
        ]
        for table in snapshot.tables {
            for chunk in SnapshotChunk.chunks(id: table.id, name: table.name, entries: table.entries) {
                messages.append(.snapshotTable(chunk))
            }
        }
        messages.append(.snapshotEnd(version: snapshot.version))
        return messages
    }

    /// A stored snapshot is incomplete or followed by other bytes.
    public enum StoredSnapshotError: Error, Hashable, Sendable, CustomStringConvertible {
        case endsEarly
        case trailingBytes

        public var description: String {
            switch self {
            case .endsEarly: "stored snapshot ends early"
            case .trailingBytes: "bytes after the stored snapshot"
            }
        }
    }

    /// A snapshot as one stored blob — the next dynamic table id (varint), then the frames of
    /// its transfer. The directory's log and the agent's replica cache keep snapshots so.
    public static func stored(_ snapshot: Snapshot) throws(WireError) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeVarint(UInt64(snapshot.nextDynamicID.rawValue))
        for message in messages(for: snapshot) {
            try buffer.writeFrame(message)
        }
        return buffer
    }

    /// The snapshot of a blob written by `stored`. Throws `WireError`,
    /// `SnapshotAssembler.Failure` or `StoredSnapshotError`.
    public static func snapshot(stored bytes: ByteBuffer) throws -> Snapshot {
        var buffer = bytes
        let next = TableID(UInt32(truncatingIfNeeded: try buffer.readVarint("next dynamic id")))
        var assembler = SnapshotAssembler()
        while let message = try buffer.readFrame() {
            if let snapshot = try assembler.on(message, nextDynamicID: next) {
                guard buffer.readableBytes == 0 else { throw StoredSnapshotError.trailingBytes }
                return snapshot
            }
        }
        throw StoredSnapshotError.endsEarly
    }
}

/// Collects the messages of one snapshot transfer. Feed it every message from
/// `snapshotBegin` to `snapshotEnd`; the last one returns the snapshot.
public struct SnapshotAssembler: Sendable {
    public enum Failure: Error, Hashable, Sendable {
        case unexpected(MessageType)
        case versionMismatch
        case tableCountMismatch
    }

    private var version: Version?
    private var tableCount = 0
    private var tables: [Snapshot.TableContents] = []

    public init() {}

    /// Consumes one message; returns the snapshot when `message` completes it.
    public mutating func on(_ message: Message, nextDynamicID: TableID? = nil) throws(Failure) -> Snapshot? {
        switch message {
        case .snapshotBegin(let version, let count):
            self.version = version
            self.tableCount = Int(count)
            self.tables = []
            return nil
        case .snapshotTable(let chunk):
            guard version != nil else { throw .unexpected(message.type) }
            if let last = tables.last, last.id == chunk.id {
                tables[tables.count - 1].entries.append(contentsOf: chunk.entries)
            } else {
                tables.append(chunk)
            }
            return nil
        case .snapshotEnd(let end):
            guard let version else { throw .unexpected(message.type) }
            guard end == version else { throw .versionMismatch }
            guard tables.count == tableCount else { throw .tableCountMismatch }
            let highest = tables.map(\.id.rawValue).max() ?? 0
            let next = nextDynamicID ?? TableID(max(TableID.firstDynamic.rawValue, highest + 1))
            let snapshot = Snapshot(version: version, nextDynamicID: next, tables: tables)
            self = SnapshotAssembler()
            return snapshot
        default:
            throw .unexpected(message.type)
        }
    }
}
