import DSDTestSupport
import Testing

@testable import DSDWire

@Suite struct ClusterKeyTests {
    static let message: [UInt8] = Array("Hi There".utf8)

    /// RFC 4231 test case 1: the key's bytes are used as the HMAC-SHA256 key unchanged.
    @Test func usesTheKeyBytesForHMACSHA256() throws {
        let key = try ClusterKey(bytes: Array(repeating: 0x0B, count: 20))
        #expect(
            key.authenticationCode(for: Self.message).description
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test func loadsHexFilesWithWhitespaceAndEitherCase() throws {
        let raw = try ClusterKey(bytes: Array(0..<32))
        let hex = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F"
        let fromFile = try ClusterKey(fileContents: Array(("  \n" + hex + "\r\n\n").utf8))
        #expect(fromFile.authenticationCode(for: Self.message) == raw.authenticationCode(for: Self.message))
    }

    @Test func generatedKeysRoundTripThroughTheirFile() throws {
        var random = SplitMix64(seed: 7)
        let key = ClusterKey.generate(using: &random)
        let contents = key.fileContents
        #expect(contents.count == 65 && contents.hasSuffix("\n"))
        #expect(contents.dropLast().allSatisfy { "0123456789abcdef".contains($0) })
        let reloaded = try ClusterKey(fileContents: Array(contents.utf8))
        #expect(reloaded.authenticationCode(for: Self.message) == key.authenticationCode(for: Self.message))
        var other = SplitMix64(seed: 8)
        #expect(ClusterKey.generate(using: &other).fileContents != contents)
        #expect(ClusterKey.generate().fileContents != ClusterKey.generate().fileContents)
    }

    @Test func rejectsShortOrInvalidKeys() {
        #expect(throws: ClusterKeyError.tooShort(15)) { try ClusterKey(bytes: Array(repeating: 1, count: 15)) }
        #expect(throws: ClusterKeyError.tooShort(15)) {
            try ClusterKey(fileContents: Array(String(repeating: "ab", count: 15).utf8))
        }
        #expect(throws: ClusterKeyError.invalidHex) {
            try ClusterKey(fileContents: Array(String(repeating: "ab", count: 16).utf8 + [UInt8(ascii: "c")]))
        }
        #expect(throws: ClusterKeyError.invalidHex) {
            try ClusterKey(fileContents: Array(String(repeating: "xy", count: 16).utf8))
        }
        #expect(throws: ClusterKeyError.invalidHex) {
            try ClusterKey(fileContents: Array(("00112233445566778899aabbccddeeff" + " 00").utf8))
        }
        #expect(throws: ClusterKeyError.tooShort(0)) { try ClusterKey(fileContents: []) }
    }

    @Test func binaryFilesAreRawKeys() throws {
        let bytes: [UInt8] = [0x00, 0xFF, 0x0A] + Array(repeating: 0x80, count: 13)
        let fromFile = try ClusterKey(fileContents: bytes)
        let raw = try ClusterKey(bytes: bytes)
        #expect(fromFile.authenticationCode(for: Self.message) == raw.authenticationCode(for: Self.message))
        #expect(throws: ClusterKeyError.tooShort(15)) { try ClusterKey(fileContents: Array(bytes.prefix(15))) }
    }

    @Test func descriptionHidesTheKey() throws {
        let key = try ClusterKey(bytes: Array(repeating: 0xAB, count: 32))
        #expect(!key.description.contains("ab"))
        #expect(key.description == "ClusterKey(256 bits)")
    }
}
