import Crypto

/// The secret every directory, node and agent of one cluster shares. Peers prove they hold it
/// in the handshake; it never travels on the wire.
public struct ClusterKey: Sendable, CustomStringConvertible {
    /// Shortest accepted key: 128 bits.
    public static let minimumBytes = 16
    /// Size of a generated key: 256 bits, the HMAC-SHA256 block-friendly size.
    public static let generatedBytes = 32

    let key: SymmetricKey

    /// A key from raw bytes; at least `minimumBytes`.
    public init(bytes: some Collection<UInt8>) throws(ClusterKeyError) {
        guard bytes.count >= Self.minimumBytes else { throw .tooShort(bytes.count) }
        key = SymmetricKey(data: Array(bytes))
    }

    /// A key from the contents of a key file. A file of printable text (surrounding whitespace
    /// ignored) must be an even number of at least 32 hex digits; any other file is taken as
    /// raw key bytes, at least `minimumBytes` of them.
    public init(fileContents: [UInt8]) throws(ClusterKeyError) {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let trimmed = fileContents.drop(while: isSpace).reversed().drop(while: isSpace).reversed()
        guard trimmed.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            try self.init(bytes: fileContents)
            return
        }
        guard trimmed.count >= 2 * Self.minimumBytes else { throw .tooShort(trimmed.count / 2) }
        guard trimmed.count % 2 == 0 else { throw .invalidHex }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(trimmed.count / 2)
        var high: UInt8?
        for character in trimmed {
            guard let nibble = Self.nibble(character) else { throw .invalidHex }
            if let first = high {
                bytes.append(first << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        try self.init(bytes: bytes)
    }

    /// A fresh key of `generatedBytes` random bytes.
    public static func generate(using generator: inout some RandomNumberGenerator) -> ClusterKey {
        var bytes: [UInt8] = []
        for _ in 0..<(generatedBytes / 8) {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        // generatedBytes >= minimumBytes, so this cannot fail.
        return try! ClusterKey(bytes: bytes)
    }

    /// A fresh key from the system's cryptographically secure generator.
    public static func generate() -> ClusterKey {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// The key as lowercase hex followed by a newline: the contents of a key file.
    public var fileContents: String {
        key.withUnsafeBytes { $0.map(hexDigits).joined() } + "\n"
    }

    /// Never shows the key.
    public var description: String { "ClusterKey(\(key.bitCount) bits)" }

    /// HMAC-SHA256 of `message` under this key.
    func authenticationCode(for message: [UInt8]) -> Bytes32 {
        Bytes32(Array(HMAC<SHA256>.authenticationCode(for: message, using: key)))!
    }

    /// Constant-time check of `code` against `message`.
    func isValid(_ code: Bytes32, for message: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(code.bytes, authenticating: message, using: key)
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Why a cluster key could not be loaded.
public enum ClusterKeyError: Error, Hashable, Sendable {
    /// The key has this many bytes, fewer than `ClusterKey.minimumBytes`.
    case tooShort(Int)
    /// A text key file holds something other than an even number of hex digits.
    case invalidHex
}

extension ClusterKeyError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .tooShort(let count):
            "the key has \(count) byte\(count == 1 ? "" : "s"); at least \(ClusterKey.minimumBytes) are needed (dsd keygen makes one)"
        case .invalidHex:
            "the key is not hex: a key file holds an even number of hex digits (dsd keygen makes one)"
        }
    }
}
