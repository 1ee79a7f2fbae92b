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
        /// The copy could not be encoded (a value past the wire's limits).
        case unencodable
        /// The copy decodes, but the directory refuses it (limits lower than when written).
        case refused(DirectoryError)

        var description: String {
            switch self {
            case .notACache: "not a dsd server cache"
            case .checksum: "checksum mismatch (damaged)"
            case .malformed(let what): "malformed: \(what)"
            case .unencodable: "the copy cannot be encoded"
            case .refused(let error): "the directory refuses the copy: \(error)"
            }
        }
    }

    static func encode(_ directory: Directory, agents: [String: AgentRecord], presence: [String: UInt64])
        throws(Failure) -> [UInt8]
    {
        let snapshot: [UInt8]
        let records: Data
        do {
            snapshot = try LogCodec.encode(directory.snapshot())
            records = try JSONEncoder().encode(Agents(records: agents, presence: presence))
        } catch {
            throw .unencodable
        }
        var bytes = magic + [format]
        bytes += withUnsafeBytes(of: UInt32(snapshot.count).littleEndian, Array.init)
        bytes += snapshot
        bytes += Array(records)
        return CRC32C.appendingChecksum(bytes)
    }

    static func decode(_ bytes: [UInt8], settings: Directory.Settings) throws(Failure) -> (Directory, Agents) {
        guard bytes.count >= magic.count + 1 + 4 + 4, Array(bytes.prefix(magic.count)) == magic,
            bytes[magic.count] == format
        else { throw .notACache }
        guard let body = CRC32C.verifiedBody(bytes) else { throw .checksum }
        let lengthStart = magic.count + 1
        let length = Int(
            body[lengthStart..<lengthStart + 4].enumerated().reduce(UInt32(0)) {
                $0 | UInt32($1.element) << (8 * $1.offset)
            })
        let snapshotStart = lengthStart + 4
        guard snapshotStart + length <= body.count else { throw .malformed("snapshot length") }
        var continuous = settings
        continuous.continuousVersions = true
        guard let snapshot = try? LogCodec.decodeSnapshot(Array(body[snapshotStart..<snapshotStart + length])) else {
            throw .malformed("the copy of the directory does not decode")
        }
        let directory: Directory
        do throws(DirectoryError) {
            directory = try Directory(snapshot: snapshot, settings: continuous)
        } catch {
            throw .refused(error)
        }
        guard
            let agents = try? JSONDecoder().decode(Agents.self, from: Data(body[(snapshotStart + length)...]))
        else { throw .malformed("the agents' records are not the expected JSON") }
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
            do throws(EtcdCache.Failure) {
                let bytes = try EtcdCache.encode(directory, agents: agents, presence: presence)
                do throws(PosixError) {
                    try DurableFile.replace(path, contents: bytes)
                    return true
                } catch {
                    logger.warning("cannot write the cache", metadata: ["cache": "\(path)", "error": "\(error)"])
                }
            } catch {
                logger.warning("cannot write the cache", metadata: ["cache": "\(path)", "error": "\(error)"])
            }
            return false
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
