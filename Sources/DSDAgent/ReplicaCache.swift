import DSDCore
import DSDPosix
import DSDWire
import FoundationEssentials
import Glibc
import NIOCore

/// The replica's cache file: the snapshot-transfer frames of the replica, written to a
/// temporary file, fsynced and renamed over the old one, so a crash leaves either the old or
/// the new cache, never a torn one.
enum ReplicaCache {
    static func load(path: String) throws -> Snapshot? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var buffer = ByteBuffer(bytes: data)
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
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CacheError.io("open \(temp)", errno) }
        defer { close(fd) }
        try buffer.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                guard n > 0 else { throw CacheError.io("write \(temp)", errno) }
                offset += n
            }
        }
        guard fsync(fd) == 0 else { throw CacheError.io("fsync \(temp)", errno) }
        guard rename(temp, path) == 0 else { throw CacheError.io("rename \(temp)", errno) }
    }

    enum CacheError: Error, CustomStringConvertible {
        case truncated(String)
        case io(String, Int32)
        var description: String {
            switch self {
            case .truncated(let path): "cache file \(path) is truncated"
            case .io(let what, let code): "\(what): \(String(cString: strerror(code)))"
            }
        }
    }
}
