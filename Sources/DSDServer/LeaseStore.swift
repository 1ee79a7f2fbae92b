import DSDCore
import DSDLog
import DSDPosix
import DSDWire
import Glibc
import Logging
import NIOCore

/// The agents' leases, kept in `DATA/leases` so that a directory restart does not forget which
/// entries a host's agent watches over (`AgentLiveness.onStart(now:restoring:)`): an agent that
/// dies while the directory is down is still detected once it is back.
///
/// Format: `"DSDLEASE" | format u8 = 1 | agents` then CRC32C (u32 little endian) of all that
/// precedes it. `agents` is a varint count, each agent `host | bootID varint | leases`, each
/// lease `table id varint | key | Time_Max ms varint | value`; strings are a varint length and
/// UTF-8. The file is replaced atomically (temp, fsync, rename, directory fsync) by a
/// background thread when the leases changed, at most every `LeaseStore.interval`.
enum LeaseStore {
    static let fileName = "leases"
    static let magic = Array("DSDLEASE".utf8)
    static let format: UInt8 = 1
    /// Longest host, key or value accepted when reading (the directory's own limits are far
    /// lower): a damaged length cannot make the reader allocate without bound.
    static let maxString = 64 << 10
    /// How soon after a lease change the file is rewritten.
    static let interval: TimeAmount = .milliseconds(100)

    enum Failure: Error, Equatable, CustomStringConvertible {
        case notALeaseFile
        case unsupportedFormat(UInt8)
        case checksum
        case malformed(String)

        var description: String {
            switch self {
            case .notALeaseFile: "not a lease file"
            case .unsupportedFormat(let format): "unsupported format \(format)"
            case .checksum: "checksum mismatch"
            case .malformed(let what): "malformed: \(what)"
            }
        }
    }

    static func encode(_ agents: [AgentLiveness.PersistedAgent]) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeBytes(magic)
        buffer.writeInteger(format)
        buffer.writeVarint(UInt64(agents.count))
        for agent in agents {
            writeString(agent.host, to: &buffer)
            buffer.writeVarint(agent.bootID)
            buffer.writeVarint(UInt64(agent.leases.count))
            for lease in agent.leases {
                buffer.writeVarint(UInt64(lease.table.rawValue))
                writeString(lease.key, to: &buffer)
                buffer.writeVarint(lease.timeMax.wholeMilliseconds)
                writeString(lease.value, to: &buffer)
            }
        }
        return CRC32C.appendingChecksum(Array(buffer.readableBytesView))
    }

    static func decode(_ bytes: [UInt8]) throws(Failure) -> [AgentLiveness.PersistedAgent] {
        guard bytes.count >= magic.count + 1 + 4, Array(bytes.prefix(magic.count)) == magic else {
            throw .notALeaseFile
        }
        guard let body = CRC32C.verifiedBody(bytes) else { throw .checksum }
        var buffer = ByteBuffer(bytes: body)
        buffer.moveReaderIndex(forwardBy: magic.count)
        let version: UInt8 = buffer.readInteger()!
        guard version == format else { throw .unsupportedFormat(version) }
        var agents: [AgentLiveness.PersistedAgent] = []
        let agentCount = try readVarint(&buffer, "agent count")
        for _ in 0..<agentCount {
            guard buffer.readableBytes > 0 else { throw .malformed("agent count") }
            let host = try readString(&buffer, "host")
            let bootID = try readVarint(&buffer, "boot id")
            let leaseCount = try readVarint(&buffer, "lease count")
            var leases: [AgentLiveness.PersistedLease] = []
            for _ in 0..<leaseCount {
                guard buffer.readableBytes > 0 else { throw .malformed("lease count") }
                let table = try readVarint(&buffer, "table id")
                guard table <= UInt64(UInt32.max) else { throw .malformed("table id") }
                let key = try readString(&buffer, "key")
                let timeMax = try readVarint(&buffer, "Time_Max")
                let value = try readString(&buffer, "value")
                leases.append(
                    .init(
                        table: TableID(UInt32(table)), key: key, timeMax: .milliseconds(Int64(clamping: timeMax)),
                        value: value))
            }
            agents.append(.init(host: host, bootID: bootID, leases: leases))
        }
        guard buffer.readableBytes == 0 else { throw .malformed("trailing bytes") }
        return agents
    }

    private static func readVarint(_ buffer: inout ByteBuffer, _ field: String) throws(Failure) -> UInt64 {
        do {
            return try buffer.readVarint(field)
        } catch {
            throw .malformed("\(error)")
        }
    }

    private static func writeString(_ text: String, to buffer: inout ByteBuffer) {
        buffer.writeVarint(UInt64(text.utf8.count))
        buffer.writeString(text)
    }

    private static func readString(_ buffer: inout ByteBuffer, _ field: String) throws(Failure) -> String {
        do {
            return try buffer.readWireString(max: maxString, field)
        } catch {
            throw .malformed("\(error)")
        }
    }

    // MARK: Files

    /// The stored leases, or [] when there is no file. A damaged file is reported (the caller
    /// logs it and starts without leases, as before leases were kept).
    static func load(directory: String) throws -> [AgentLiveness.PersistedAgent] {
        let path = directory + "/" + fileName
        let bytes: [UInt8]
        do throws(PosixError) {
            bytes = try Streams.readFile(path)
        } catch {
            if error.errno == ENOENT { return [] }
            throw LogError.io(operation: error.operation, path: path, errno: error.errno)
        }
        return try decode(bytes)
    }

    /// Replaces the file durably.
    static func save(_ agents: [AgentLiveness.PersistedAgent], directory: String) throws(PosixError) {
        try DurableFile.replace(directory + "/" + fileName, contents: encode(agents))
    }

    /// `save`, logging a failure (the leases stay in memory; the next change retries).
    /// Returns whether the file was written.
    static func save(_ agents: [AgentLiveness.PersistedAgent], directory: String, logger: Logger) -> Bool {
        do {
            try save(agents, directory: directory)
            return true
        } catch {
            logger.warning("could not store the agents' leases", metadata: ["error": "\(error)"])
            return false
        }
    }
}
