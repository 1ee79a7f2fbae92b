/// Exactly 32 bytes: a handshake nonce or an HMAC-SHA256 authentication code.
public struct Bytes32: Hashable, Sendable, CustomStringConvertible {
    public static let count = 32

    /// The bytes; always `Bytes32.count` of them.
    public let bytes: [UInt8]

    /// `nil` unless `bytes` holds exactly 32 bytes.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == Self.count else { return nil }
        self.bytes = Array(bytes)
    }

    /// 32 bytes from a random number generator.
    public static func random(using generator: inout some RandomNumberGenerator) -> Bytes32 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        for _ in 0..<(count / 8) {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        return Bytes32(bytes)!
    }

    /// 32 bytes from the system's cryptographically secure generator.
    public static func random() -> Bytes32 {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    public var description: String { bytes.map { hexDigits($0) }.joined() }
}

func hexDigits(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}
