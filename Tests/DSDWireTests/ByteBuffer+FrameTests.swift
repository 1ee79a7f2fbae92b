import DSDCore
import NIOCore
import Testing

@testable import DSDWire

@Suite struct FrameTests {
    /// The pushed change of one put is the protocol's hot path: every byte counts.
    @Test func pushedPutLayoutIsExact() throws {
        let change = Change(
            version: Version(epoch: 1, index: 1000),
            mutation: .put(StandardTable.metadata.id, Entry(key: "MDS.1", value: "HOST9:1872"))
        )
        var buffer = ByteBuffer()
        try buffer.writeFrame(.change(change))
        let expected: [UInt8] =
            [0x16, 0x11, 0x01, 0xE8, 0x07, 0x00, 0x02, 0x05] + Array("MDS.1".utf8) + [0x0A] + Array("HOST9:1872".utf8)
        #expect(Array(buffer.readableBytesView) == expected)
        #expect(buffer.readableBytes - 5 - 10 == 9, "overhead beyond key and value bytes")
    }

    /// epoch, index, table, key bytes, value bytes, expected overhead.
    static let putSizes: [(UInt64, UInt64, UInt32, Int, Int, Int)] = [
        (1, 1, 1, 1, 1, 8),
        (1, 1_000_000, 3, 10, 20, 10),
        (1_000, 1 << 40, 5000, 200, 100, 17),
        (1 << 27, 1 << 55, 16_383, Limits.maxKeyBytes, Limits.maxValueBytes, 22),
        (1 << 27, .max, 16_383, Limits.maxKeyBytes, Limits.maxValueBytes, 24),
    ]

    /// Overhead of a pushed put for sizes up to the limits.
    @Test(arguments: putSizes)
    func pushedPutOverhead(epoch: UInt64, index: UInt64, table: UInt32, keyBytes: Int, valueBytes: Int, overhead: Int)
        throws
    {
        let entry = Entry(
            key: String(repeating: "k", count: keyBytes), value: String(repeating: "v", count: valueBytes), valid: false
        )
        let change = Change(version: Version(epoch: epoch, index: index), mutation: .put(TableID(table), entry))
        var buffer = ByteBuffer()
        let written = try buffer.writeFrame(.change(change))
        #expect(written - keyBytes - valueBytes == overhead)
        #expect(overhead <= 24)
        #expect(try buffer.readFrame() == .change(change))
    }

    @Test func pingLayout() throws {
        var buffer = ByteBuffer()
        try buffer.writeFrame(.ping(300))
        #expect(Array(buffer.readableBytesView) == [0x02, 0x15, 0xAC, 0x02])
    }

    @Test func helloLayout() throws {
        var buffer = ByteBuffer()
        try buffer.writeFrame(.hello(Hello(protocolVersion: 1, role: .agent, nonce: Samples.nonce, name: "h1")))
        #expect(
            Array(buffer.readableBytesView) == [38, 0x01, 0x00, 0x01, 0x01] + Array(0..<32) + [0x02] + Array("h1".utf8))
    }

    @Test func shortInputRewinds() throws {
        var full = ByteBuffer()
        for message in Samples.messages { try full.writeFrame(message) }
        let bytes = Array(full.readableBytesView)
        // Feed every prefix of the first frames: each is either incomplete (nil, untouched) or whole.
        var decoded: [Message] = []
        var buffer = ByteBuffer()
        for byte in bytes {
            buffer.writeInteger(byte)
            let before = buffer.readerIndex
            if let message = try buffer.readFrame() {
                decoded.append(message)
            } else {
                #expect(buffer.readerIndex == before)
            }
        }
        #expect(decoded == Samples.messages)
    }

    @Test func oversizeLengthThrowsBeforeTheBodyArrives() {
        var declared = ByteBuffer()
        declared.writeVarint(UInt64(WireLimits.maxFrameBytes + 1))
        #expect(throws: WireError.frameTooLarge(WireLimits.maxFrameBytes + 1)) { try declared.readFrame() }
        // A fourth length byte is never needed.
        var long = ByteBuffer(bytes: [0x80, 0x80, 0x80])
        #expect(throws: WireError.self) { try long.readFrame() }
    }

    @Test func unknownTypeThrowsBeforeTheBodyArrives() {
        var buffer = ByteBuffer(bytes: [0x50, 0xEE])
        #expect(throws: WireError.unknownType(0xEE)) { try buffer.readFrame() }
    }

    @Test func trailingBytesAreRefused() {
        // ping(1) with a length of 2: one byte of body left over.
        var buffer = ByteBuffer(bytes: [0x02, 0x15, 0x01, 0x00])
        #expect(throws: WireError.trailingBytes(1)) { try buffer.readFrame() }
    }

    @Test func truncatedBodyIsMalformed() {
        // change with a 1-byte body.
        var buffer = ByteBuffer(bytes: [0x01, 0x11, 0x01])
        #expect(throws: WireError.self) { try buffer.readFrame() }
    }

    @Test func overlongFrameLengthIsRefused() {
        // ping(1) whose length 2 is written in two bytes.
        var buffer = ByteBuffer(bytes: [0x82, 0x00, 0x15, 0x01, 0x00])
        #expect(throws: WireError.malformed("frame length: overlong varint")) { try buffer.readFrame() }
    }

    @Test func unknownEnumTagsAreMalformed() {
        let frames: [[UInt8]] = [
            [0x02, 0x04, 0x00, 0x00],  // error code 0
            [0x02, 0x04, 0xFF, 0x00],  // error code 255
            [0x03, 0x11, 0x00, 0x00, 0x09],  // mutation tag 9
            [0x02, 0x20, 0x00, 0x04],  // request op 4
            [0x02, 0x30, 0x00, 0x0C],  // client request 12
            [0x02, 0x31, 0x00, 0x07],  // client reply 7
            [0x02, 0x10, 0x02, 0x00],  // sync with bool 2
        ]
        for frame in frames {
            var buffer = ByteBuffer(bytes: frame)
            #expect(throws: WireError.self, "\(frame)") { try buffer.readFrame() }
        }
    }
}
