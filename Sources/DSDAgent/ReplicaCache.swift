import DSDCore
import DSDPosix
import DSDWire
import FoundationEssentials
import Glibc
import NIOCore

/// The replica's cache file: the replica as a stored snapshot (`SnapshotTransfer.stored`), replaced with
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
        return try SnapshotTransfer.snapshot(stored: ByteBuffer(bytes: bytes))
    }

    static func save(_ snapshot: Snapshot, path: String) throws {
        let buffer = try SnapshotTransfer.stored(snapshot)
        let directory = Paths.parent(of: path)
        try FileManager.default.createDirectory(
            atPath: directory.isEmpty ? "." : directory, withIntermediateDirectories: true)
        try DurableFile.replace(path, contents: Array(buffer.readableBytesView), mode: 0o600)
    }
}
