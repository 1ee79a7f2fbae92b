import DSDCore
import DSDLog
import DSDPosix
import DSDWire
import FoundationEssentials
import Glibc
import Logging
import NIOCore

/// A server's copy of the directory on its own disk (`dsd server --etcd … --cache FILE`), so
/// a restart reads only what changed since, with a watch from the cached revision, instead of
/// listing the whole prefix. When etcd no longer retains that revision (compacted), or the
/// file is damaged or from another history, the server lists as without a cache.
///
/// Format: `"DSDETCDC" | format u8 = 1 | snapshot length u32 LE | snapshot (the log's snapshot
/// encoding, `LogCodec`) | agents and presence as JSON | CRC32C u32 LE of all that precedes`.
/// Replaced atomically (temp, fsync, rename).
enum EtcdCache {
    static let magic = Array("DSDETCDC".utf8)
    static let format: UInt8 = 1
    /// How often a changed copy is written while serving (and always at a clean stop).
    static let interval: TimeAmount = .seconds(10)

    struct Agents: Codable {
        var records: [String: AgentRecord]
        var presence: [String: UInt64]
    }

    enum Failure: Error, CustomStringConvertible {
        case notACache
        case checksum
        case malformed(String)

        var description: String {
            switch self {
            case .notACache: "not a dsd server cache"
            case .checksum: "checksum mismatch (damaged)"
            case .malformed(let what): "malformed: \(what)"
            }
        }
    }

    static func encode(_ directory: Directory, agents: [String: AgentRecord], presence: [String: UInt64]) throws
        -> [UInt8]
    {
        let snapshot = try LogCodec.encode(directory.snapshot())
        var bytes = magic + [format]
        bytes += withUnsafeBytes(of: UInt32(snapshot.count).littleEndian, Array.init)
        bytes += snapshot
        bytes += Array(try JSONEncoder().encode(Agents(records: agents, presence: presence)))
        bytes += withUnsafeBytes(of: CRC32C.checksum(bytes).littleEndian, Array.init)
        return bytes
    }

    static func decode(_ bytes: [UInt8], settings: Directory.Settings) throws -> (Directory, Agents) {
        guard bytes.count >= magic.count + 1 + 4 + 4, Array(bytes.prefix(magic.count)) == magic,
            bytes[magic.count] == format
        else { throw Failure.notACache }
        let body = bytes.dropLast(4)
        let stored = bytes.suffix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
        guard CRC32C.checksum(body) == stored else { throw Failure.checksum }
        let lengthStart = magic.count + 1
        let length = Int(
            body[lengthStart..<lengthStart + 4].enumerated().reduce(UInt32(0)) {
                $0 | UInt32($1.element) << (8 * $1.offset)
            })
        let snapshotStart = lengthStart + 4
        guard snapshotStart + length <= body.count else { throw Failure.malformed("snapshot length") }
        let snapshot = try LogCodec.decodeSnapshot(Array(body[snapshotStart..<snapshotStart + length]))
        var continuous = settings
        continuous.continuousVersions = true
        let directory = try Directory(snapshot: snapshot, settings: continuous)
        let agents = try JSONDecoder().decode(Agents.self, from: Data(body[(snapshotStart + length)...]))
        return (directory, agents)
    }
}

extension EtcdOpening {
    /// The cached copy at `path` as an opening at its revision, if it is of `epoch`.
    static func cached(at path: String, epoch: UInt64, settings: Directory.Settings, logger: Logger) -> EtcdOpening? {
        let bytes: [UInt8]
        do throws(PosixError) {
            bytes = try Streams.readFile(path)
        } catch {
            if error.errno != ENOENT {
                logger.warning(
                    "cannot read the cache; listing etcd", metadata: ["cache": "\(path)", "error": "\(error)"])
            }
            return nil
        }
        do {
            let (directory, agents) = try EtcdCache.decode(bytes, settings: settings)
            guard directory.version.epoch == epoch else {
                logger.notice(
                    "the cache is of another history; listing etcd",
                    metadata: [
                        "cache": "\(path)", "cache.epoch": "\(directory.version.epoch)", "etcd.epoch": "\(epoch)",
                    ])
                return nil
            }
            return EtcdOpening(
                epoch: epoch, revision: Int64(directory.version.index), directory: directory, agents: agents.records,
                presence: agents.presence, unreadable: [])
        } catch {
            logger.warning("the cache is unusable; listing etcd", metadata: ["cache": "\(path)", "error": "\(error)"])
            return nil
        }
    }
}

extension EtcdDirectoryEngine {
    /// Writes the cache every `EtcdCache.interval` while the copy changed, on a thread of its
    /// own (the snapshot shares the copy's storage), and once more at a clean stop.
    func startCaching() {
        guard backend.cachePath != nil else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        loop.scheduleRepeatedTask(initialDelay: EtcdCache.interval, delay: EtcdCache.interval) { task in
            let engine = bound.value
            if engine.stopping { task.cancel() } else { engine.writeCache(wait: false) }
        }
    }

    func writeCache(wait: Bool) {
        guard let path = backend.cachePath, seen != cachedRevision, !cacheWriting else { return }
        let directory = self.directory
        let agents = agentRecords
        let presence = self.presence
        let revision = seen
        let logger = self.logger
        let write: @Sendable () -> Bool = {
            do {
                try DurableFile.replace(
                    path, contents: try EtcdCache.encode(directory, agents: agents, presence: presence))
                return true
            } catch {
                logger.warning("cannot write the cache", metadata: ["cache": "\(path)", "error": "\(error)"])
                return false
            }
        }
        if wait {
            if write() { cachedRevision = revision }
            return
        }
        cacheWriting = true
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        let started = PosixThread.detach {
            let written = write()
            loop.execute {
                bound.value.cacheWriting = false
                if written { bound.value.cachedRevision = max(bound.value.cachedRevision, revision) }
            }
        }
        if !started { cacheWriting = false }
    }
}
