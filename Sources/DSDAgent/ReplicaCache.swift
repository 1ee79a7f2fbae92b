import DSDCore
import DSDPosix
import DSDWire
import FoundationEssentials
import Glibc
import NIOCore

/// The replica's cache file: the snapshot-transfer frames of the replica, replaced with
/// `DurableFile`, so a crash leaves either the old or the new cache, never a torn one.
enum ReplicaCache {
    static func load(path: String) throws -> Snapshot? {
        let bytes: [UInt8]
        do throws(PosixError) {
            bytes = try Streams.readFile(path)
        } catch {
            if error.errno == ENOENT { return nil }
            throw error
        }
        var buffer = ByteBuffer(bytes: bytes)
        let next = try buffer.readVarint("next dynamic id")
        var assembler = SnapshotAssembler()
        while let message = try buffer.readFrame() {
            if let snapshot = try assembler.on(message, nextDynamicID: TableID(UInt32(truncatingIfNeeded: next))) {
                return snapshot
            }
        }
        throw CacheError.truncated(path)
    }

    static func save(_ snapshot: Snapshot, path: String) throws {
        var buffer = ByteBuffer()
        buffer.writeVarint(UInt64(snapshot.nextDynamicID.rawValue))
        for message in SnapshotTransfer.messages(for: snapshot) {
            try buffer.writeFrame(message)
        }
        let directory = Paths.parent(of: path)
        try FileManager.default.createDirectory(
            atPath: directory.isEmpty ? "." : directory, withIntermediateDirectories: true)
        try DurableFile.replace(path, contents: Array(buffer.readableBytesView), mode: 0o600)
    }

    enum CacheError: Error, CustomStringConvertible {
        case truncated(String)
        var description: String {
            switch self {
            case .truncated(let path): "cache file \(path) is truncated"
            }
        }
    }
}
