import Crypto
import NIOCore

/// One direction of a sealed session: seals (or opens) the records that carry every frame
/// after the handshake.
///
/// - AEAD: ChaCha20-Poly1305 (swift-crypto), a 16-byte tag per record.
/// - Nonce: 4 zero bytes, then the record's counter as a big-endian UInt64. The counter starts
///   at 0 under each key and goes up by one per record, on both ends alike, so a record that
///   is replayed, reordered, dropped or altered does not open.
/// - Associated data: the record's length prefix, so the framing cannot be altered either.
/// - Rekey: after `recordsPerKey` records both ends replace the key by
///   HKDF-SHA256(key, info: "dsd-rekey-v1") and restart the counter: the counter never wraps
///   and no key seals more than `recordsPerKey` records.
///
/// The keys come from `SessionKeys` (cluster key + handshake transcript, one per direction).
public struct RecordCipher: Sendable {
    /// 2^32 records per key: far below the 2^64 the counter could count, so it never wraps.
    public static let defaultRecordsPerKey: UInt64 = 1 << 32
    /// Bytes a record adds to the frames it carries, beyond its length prefix.
    public static let tagBytes = 16

    static let rekeyLabel = Array("dsd-rekey-v1".utf8)

    private(set) var key: SymmetricKey
    /// The counter of the next record under `key`.
    private(set) var counter: UInt64 = 0
    /// How many times the key was replaced.
    public private(set) var generation: UInt64 = 0
    let recordsPerKey: UInt64

    public init(key: SymmetricKey, recordsPerKey: UInt64 = RecordCipher.defaultRecordsPerKey) {
        precondition(recordsPerKey > 0, "a key must seal at least one record")
        self.key = key
        self.recordsPerKey = recordsPerKey
    }

    /// Appends one record carrying `plaintext` (at most `WireLimits.maxRecordBytes`):
    /// `[plaintext length: varint][ciphertext][tag: 16 bytes]`.
    public mutating func seal(_ plaintext: ByteBufferView, into out: inout ByteBuffer) {
        precondition(plaintext.count <= WireLimits.maxRecordBytes, "record over WireLimits.maxRecordBytes")
        let header = Self.lengthPrefix(plaintext.count)
        out.writeBytes(header)
        do {
            let box = try ChaChaPoly.seal(Array(plaintext), using: key, nonce: nonce(), authenticating: header)
            out.writeBytes(box.ciphertext)
            out.writeBytes(box.tag)
        } catch {
            preconditionFailure("ChaChaPoly.seal with a 256-bit key and a 12-byte nonce cannot fail: \(error)")
        }
        advance()
    }

    /// Opens the next record in `buffer` and appends its plaintext to `plaintext`. Returns
    /// false, leaving `buffer` as it was, while the record is incomplete; throws `WireError`
    /// (and the connection must close) when it is over the limit or does not open.
    public mutating func open(_ buffer: inout ByteBuffer, into plaintext: inout ByteBuffer) throws(WireError) -> Bool {
        guard let (length, headerBytes) = try buffer.peekVarintLength(limit: WireLimits.maxRecordBytes) else {
            return false
        }
        guard buffer.readableBytes >= headerBytes + length + Self.tagBytes else { return false }
        let header = buffer.readBytes(length: headerBytes)!
        let ciphertext = buffer.readBytes(length: length)!
        let tag = buffer.readBytes(length: Self.tagBytes)!
        do {
            let box = try ChaChaPoly.SealedBox(nonce: nonce(), ciphertext: ciphertext, tag: tag)
            plaintext.writeBytes(try ChaChaPoly.open(box, using: key, authenticating: header))
        } catch {
            throw .unsealFailed
        }
        advance()
        return true
    }

    /// `count` as a minimal LEB128 varint.
    public static func lengthPrefix(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var rest = UInt64(count)
        repeat {
            bytes.append(UInt8(rest & 0x7F) | (rest > 0x7F ? 0x80 : 0))
            rest >>= 7
        } while rest > 0
        return bytes
    }

    private func nonce() -> ChaChaPoly.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for index in 0..<8 { bytes[4 + index] = UInt8(truncatingIfNeeded: counter >> (56 - 8 * index)) }
        // 12 bytes is ChaChaPoly's nonce size, so this cannot fail.
        return try! ChaChaPoly.Nonce(data: bytes)
    }

    private mutating func advance() {
        counter += 1
        guard counter == recordsPerKey else { return }
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Self.rekeyLabel, outputByteCount: 32)
        counter = 0
        generation += 1
    }
}

/// The two keys of a sealed session, one per direction, derived when the handshake succeeds:
/// HKDF-SHA256 with the cluster key as input key material, the SHA-256 of the handshake
/// transcript (both hellos: roles, nonces, names, initiator first) as salt, and the sending
/// side (`dsd-seal-v1 initiator` or `… responder`) as info. Fresh nonces make every
/// connection's keys new; the two directions never share a key.
public struct SessionKeys: Hashable, Sendable {
    public let outbound: SymmetricKey
    public let inbound: SymmetricKey

    static let label = Array("dsd-seal-v1 ".utf8)

    /// Keys are compared, never hashed: every `SessionKeys` hashes alike.
    public func hash(into hasher: inout Hasher) {}

    init(clusterKey: ClusterKey, side: Handshake.Side, own: Hello, peer: Hello) {
        let (initiator, responder) = side == .initiator ? (own, peer) : (peer, own)
        var transcript = ByteBuffer()
        transcript.writeBytes(Self.label)
        for hello in [initiator, responder] {
            transcript.writeInteger(hello.protocolVersion)
            transcript.writeInteger(hello.role.rawValue)
            transcript.writeBytes32(hello.nonce)
            transcript.writeVarint(UInt64(hello.name.utf8.count))
            transcript.writeString(hello.name)
        }
        let salt = Array(SHA256.hash(data: Array(transcript.readableBytesView)))
        func key(sentBy sender: Handshake.Side) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: clusterKey.key, salt: salt,
                info: Self.label + Array((sender == .initiator ? "initiator" : "responder").utf8),
                outputByteCount: 32)
        }
        outbound = key(sentBy: side)
        inbound = key(sentBy: side.peer)
    }
}
