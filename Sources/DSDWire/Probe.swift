import NIOCore

/// A route probe: one UDP datagram, authenticated with the cluster key.
///
/// The directory sends a `request` to each route address of each connected host; the host's
/// agent answers with a `reply` that echoes every field, from the route's own address. Layout
/// (integers big-endian):
///
/// ```
///  0      4        5      6           7       7+n     11+n   19+n      27+n        35+n
///  +------+--------+------+-----------+-------+-------+------+---------+-----------+------------+
///  | DSDP | version| kind | host len n| host  | index | seq  | session | timestamp | HMAC (32)  |
///  +------+--------+------+-----------+-------+-------+------+---------+-----------+------------+
///   magic   UInt8   1 req   UInt8      UTF-8   UInt32  UInt64  UInt64    UInt64
///                   2 rep   1...255
/// ```
///
/// The HMAC is HMAC-SHA256 under the cluster key over `label ‖ every byte before it`, with
/// the domain label `dsd-route-probe-v1`: a code made for the handshake or for another kind
/// of probe never verifies here. Verification compares in constant time. `kind` is covered,
/// so a request reflected back is not a reply. `session` is random per directory process and
/// `seq` increases per probe: the directory accepts a reply only for a probe of its own
/// session that is still outstanding, and an agent answers a request only if its `seq` is
/// higher than any it answered for that session and route, so a captured datagram replayed
/// later changes nothing. `timestamp` is the sender's clock reading, echoed for round-trip
/// measurement, never trusted.
public struct Probe: Hashable, Sendable {
    public enum Kind: UInt8, Hashable, Sendable {
        case request = 1
        case reply = 2
    }

    public static let magic: [UInt8] = Array("DSDP".utf8)
    public static let version: UInt8 = 1
    /// Domain separation for the MAC input.
    static let label: [UInt8] = Array("dsd-route-probe-v1".utf8)
    /// Longest host name a probe carries, in UTF-8 bytes.
    public static let maxHostBytes = 255
    /// Size of the largest probe datagram.
    public static let maxBytes = 4 + 1 + 1 + 1 + maxHostBytes + 4 + 8 + 8 + 8 + Bytes32.count

    public var kind: Kind
    /// The probed host (`HOST9`).
    public var host: String
    /// The probed route's index (`HOST9.<index>`).
    public var routeIndex: UInt32
    public var sequence: UInt64
    public var session: UInt64
    public var timestamp: UInt64

    public init(kind: Kind, host: String, routeIndex: UInt32, sequence: UInt64, session: UInt64, timestamp: UInt64) {
        self.kind = kind
        self.host = host
        self.routeIndex = routeIndex
        self.sequence = sequence
        self.session = session
        self.timestamp = timestamp
    }

    /// The reply to this request: every field echoed.
    public var reply: Probe {
        var reply = self
        reply.kind = .reply
        return reply
    }

    /// The datagram, MAC included. The host name must be 1…`maxHostBytes` bytes.
    public func encoded(key: ClusterKey) throws(ProbeError) -> ByteBuffer {
        let name = Array(host.utf8)
        guard (1...Self.maxHostBytes).contains(name.count) else { throw .badHostName }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(Self.maxBytes)
        buffer.writeBytes(Self.magic)
        buffer.writeInteger(Self.version)
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(UInt8(name.count))
        buffer.writeBytes(name)
        buffer.writeInteger(routeIndex)
        buffer.writeInteger(sequence)
        buffer.writeInteger(session)
        buffer.writeInteger(timestamp)
        let mac = key.authenticationCode(for: Self.label + Array(buffer.readableBytesView))
        buffer.writeBytes(mac.bytes)
        return buffer
    }

    /// Parses and authenticates a datagram. Nothing but an exact, authentic probe passes.
    public init(decoding datagram: ByteBuffer, key: ClusterKey) throws(ProbeError) {
        var buffer = datagram
        let start = buffer.readerIndex
        guard let magic = buffer.readBytes(length: 4) else { throw .truncated }
        guard magic == Self.magic else { throw .badMagic }
        guard let version: UInt8 = buffer.readInteger(), let kindByte: UInt8 = buffer.readInteger(),
            let length: UInt8 = buffer.readInteger()
        else { throw .truncated }
        guard version == Self.version else { throw .unsupportedVersion(version) }
        guard let kind = Kind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        guard length > 0 else { throw .badHostName }
        guard let name = buffer.readBytes(length: Int(length)) else { throw .truncated }
        guard let host = String(validating: name, as: UTF8.self) else { throw .badHostName }
        guard let index: UInt32 = buffer.readInteger(), let sequence: UInt64 = buffer.readInteger(),
            let session: UInt64 = buffer.readInteger(), let timestamp: UInt64 = buffer.readInteger()
        else { throw .truncated }
        let signedLength = buffer.readerIndex - start
        guard let macBytes = buffer.readBytes(length: Bytes32.count), let mac = Bytes32(macBytes) else {
            throw .truncated
        }
        guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
        let signed = datagram.getBytes(at: start, length: signedLength) ?? []
        guard key.isValid(mac, for: Self.label + signed) else { throw .authenticationFailed }
        self.init(kind: kind, host: host, routeIndex: index, sequence: sequence, session: session, timestamp: timestamp)
    }
}

/// Why a datagram is not a probe to act on.
public enum ProbeError: Error, Hashable, Sendable {
    case truncated
    case badMagic
    case unsupportedVersion(UInt8)
    case unknownKind(UInt8)
    /// Empty, longer than `Probe.maxHostBytes` or not UTF-8.
    case badHostName
    case trailingBytes(Int)
    /// The MAC does not verify under the cluster key.
    case authenticationFailed
}
