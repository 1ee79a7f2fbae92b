import DSDCore
import DSDLog
import DSDWire
import NIOCore

/// How the directory's history is stored in the write-ahead log.
///
/// A change record (type `changeRecord`) holds the change as the same frame that is pushed to
/// agents (`Message.change`). A snapshot holds the next dynamic table id as a varint followed
/// by the frames of a snapshot transfer (`snapshotBegin`, `snapshotTable`…, `snapshotEnd`).
/// Reusing the wire encoding keeps one codec, fuzzed once.
enum LogCodec {
    static let changeRecord: UInt8 = 1

    static func encode(_ change: Change) throws(WireError) -> [UInt8] {
        var buffer = ByteBuffer()
        try buffer.writeFrame(.change(change))
        return Array(buffer.readableBytesView)
    }

    static func decodeChange(_ bytes: [UInt8]) throws -> Change {
        var buffer = ByteBuffer(bytes: bytes)
        guard case .change(let change)? = try buffer.readFrame(), buffer.readableBytes == 0 else {
            throw LogCodecError.malformed("change record")
        }
        return change
    }

    static func encode(_ snapshot: Snapshot) throws(WireError) -> [UInt8] {
        Array(try SnapshotTransfer.stored(snapshot).readableBytesView)
    }

    static func decodeSnapshot(_ bytes: [UInt8]) throws -> Snapshot {
        try SnapshotTransfer.snapshot(stored: ByteBuffer(bytes: bytes))
    }
}

enum LogCodecError: Error, CustomStringConvertible {
    case malformed(String)
    var description: String {
        switch self {
        case .malformed(let what): "malformed \(what)"
        }
    }
}

/// The log's contents after replay: the newest snapshot and the changes after it, in order.
/// The directory is rebuilt from them once the settings are known.
struct ReplayedHistory: LogReplayable {
    var snapshot: Snapshot?
    var changes: [Change] = []

    init(snapshot bytes: [UInt8]?) throws {
        snapshot = try bytes.map(LogCodec.decodeSnapshot)
    }

    mutating func replay(lsn: UInt64, type: UInt8, payload: [UInt8]) throws {
        guard type == LogCodec.changeRecord else { throw LogCodecError.malformed("record type \(type) at \(lsn)") }
        changes.append(try LogCodec.decodeChange(payload))
    }

    /// The directory these contents describe.
    func directory(settings: Directory.Settings, newEpoch: UInt64) throws -> Directory {
        var directory: Directory
        if let snapshot {
            directory = try Directory(snapshot: snapshot, settings: settings)
        } else {
            // The log's first change carries the epoch this history began with.
            directory = Directory(epoch: changes.first?.version.epoch ?? newEpoch, settings: settings)
        }
        for change in changes {
            try directory.apply(change)
        }
        return directory
    }
}
