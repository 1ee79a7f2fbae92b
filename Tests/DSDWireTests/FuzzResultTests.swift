import DSDCore
import NIOCore
import Testing

@testable import DSDWire

/// Hostile inputs kept as regression tests. Every input that ever crashed, hung or
/// mis-decoded the decoder (in `FuzzTests` or elsewhere) belongs here with the error it must
/// now produce.
@Suite struct FuzzResultTests {
    static let cases: [(name: String, bytes: [UInt8], error: WireError)] = [
        // An entries count of 512 in a 5-byte body must not reserve 512 entries.
        ("entry count bomb", [0x05, 0x13, 0x01, 0x00, 0x80, 0x04, 0x00], .malformed("entries: truncated")),
        // A string length of UInt64.max must be refused before any conversion to Int.
        (
            "huge string length", [0x0C, 0x13, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00],
            .malformed("table: 18446744073709551615 exceeds 255")
        ),
        // A table id above UInt32.max must not trap on conversion.
        (
            "table id overflow", [0x08, 0x11, 0x00, 0x00, 0x04, 0x80, 0x80, 0x80, 0x80, 0x10],
            .malformed("table: 4294967296 exceeds 4294967295")
        ),
        // The frame length takes at most three bytes; a fourth is never waited for.
        ("endless length", [0xFF, 0xFF, 0xFF], .frameTooLarge(2_097_151)),
        // A nonce cut short inside a complete frame.
        ("short nonce", [0x05, 0x01, 0x00, 0x01, 0x01, 0x00, 0x00], .malformed("nonce: truncated")),
        // Unknown role.
        (
            "unknown role", [0x24, 0x01, 0x00, 0x01, 0x09] + Array(repeating: 0, count: 32) + [0x00],
            .malformed("role: unknown 9")
        ),
        // A status reply claiming more fields than allowed.
        ("status count", [0x04, 0x31, 0x01, 0x04, 0x81, 0x02], .malformed("status: 257 exceeds 256")),
        // A snapshotBegin with more tables than a directory may hold.
        ("table count", [0x04, 0x12, 0x00, 0x00, 0x81, 0x20], .malformed("tableCount: 4097 exceeds 4096")),
    ]

    @Test(arguments: cases.indices)
    func hostileInputFailsWithATypedError(index: Int) {
        let (name, bytes, expected) = Self.cases[index]
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: expected, "\(name)") { try buffer.readFrame() }
    }
}
