import DSDCore
import DSDTestSupport
import NIOCore
import Testing

@testable import DSDWire

@Suite struct VarintTests {
    static let encodings: [(UInt64, [UInt8])] = [
        (0, [0x00]),
        (1, [0x01]),
        (127, [0x7F]),
        (128, [0x80, 0x01]),
        (300, [0xAC, 0x02]),
        (16_383, [0xFF, 0x7F]),
        (16_384, [0x80, 0x80, 0x01]),
        (UInt64(UInt32.max), [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
        (.max, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
    ]

    static let invalid: [[UInt8]] = [
        [0x80, 0x00],  // 0 in two bytes
        [0xFF, 0x80, 0x00],  // 127 with a trailing zero group
        [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02],  // bit 64 set
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x00],  // 11 bytes
        [0x80],  // truncated
        [],
    ]

    @Test(arguments: encodings)
    func encodesLEB128(value: UInt64, bytes: [UInt8]) throws {
        var buffer = ByteBuffer()
        #expect(buffer.writeVarint(value) == bytes.count)
        #expect(Array(buffer.readableBytesView) == bytes)
        #expect(ByteBuffer.varintSize(value) == bytes.count)
        #expect(try buffer.readVarint("v") == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: invalid)
    func rejectsOverlongOrTruncated(bytes: [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: WireError.self) { try buffer.readVarint("v") }
    }

    @Test func randomValuesRoundTrip() throws {
        var random = SplitMix64(seed: 1)
        var buffer = ByteBuffer()
        var values: [UInt64] = []
        for _ in 0..<10_000 {
            let value = random.next() >> (random.next() % 64)
            values.append(value)
            buffer.writeVarint(value)
        }
        for value in values { #expect(try buffer.readVarint("v") == value) }
    }
}

@Suite struct FieldTests {
    @Test func boolAcceptsOnlyZeroAndOne() throws {
        var buffer = ByteBuffer(bytes: [0, 1, 2])
        #expect(try buffer.readBool("b") == false)
        #expect(try buffer.readBool("b") == true)
        #expect(throws: WireError.malformed("b: bool byte 2")) { try buffer.readBool("b") }
    }

    @Test func stringsMustBeValidUTF8() {
        var buffer = ByteBuffer(bytes: [2, 0xC3, 0x28])
        #expect(throws: WireError.malformed("s: invalid UTF-8")) { try buffer.readWireString(max: 10, "s") }
    }

    @Test func stringLengthIsCheckedBeforeReading() {
        var buffer = ByteBuffer(bytes: [11] + Array(repeating: UInt8(ascii: "a"), count: 11))
        #expect(throws: WireError.self) { try buffer.readWireString(max: 10, "s") }
    }

    @Test func keysAndValuesAtTheirLimits() throws {
        var buffer = ByteBuffer()
        try buffer.writeEntry(Samples.maxEntry)
        #expect(try buffer.readEntry() == Samples.maxEntry)
        #expect(throws: WireError.self) { try buffer.writeKey(Samples.longKey + "x") }
    }

    @Test func entryCountMustFitTheBody() {
        // Claims 512 entries in a 3-byte body: refused before reserving memory.
        var buffer = ByteBuffer(bytes: [0x80, 0x04, 0, 0, 1])
        #expect(throws: WireError.malformed("entries: truncated")) { try buffer.readEntries() }
    }
}
