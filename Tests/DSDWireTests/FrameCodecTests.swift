import DSDCore
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import DSDWire

@Suite struct FrameCodecTests {
    static func frame(_ messages: [Message]) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        for message in messages { try buffer.writeFrame(message) }
        return buffer
    }

    @Test func decoderPassesTheVerifier() throws {
        var pairs = try Samples.messages.map { (try Self.frame([$0]), [$0]) }
        pairs.append((try Self.frame([.ping(1), .pong(1), .authOK]), [.ping(1), .pong(1), .authOK]))
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder() }
    }

    @Test func encoderAndDecoderRoundTripThroughAChannel() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
        for message in Samples.messages { try channel.writeOutbound(message) }
        var received: [Message] = []
        while let bytes = try channel.readOutbound(as: ByteBuffer.self) {
            // Split each frame in two to exercise reassembly.
            var first = bytes
            let second = first.readSlice(length: first.readableBytes / 2)!
            try channel.writeInbound(second)
            try channel.writeInbound(first)
            while let message = try channel.readInbound(as: Message.self) { received.append(message) }
        }
        #expect(received == Samples.messages)
        #expect(try channel.finish().isClean)
    }

    @Test func unknownTypeFailsTheChannelWithATypedError() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        #expect(throws: WireError.unknownType(0xEE)) {
            try channel.writeInbound(ByteBuffer(bytes: [0x01, 0xEE, 0x00]))
        }
        _ = try? channel.finish()
    }

    @Test func oversizeFrameFailsTheChannelWithATypedError() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        var header = ByteBuffer()
        header.writeVarint(UInt64(WireLimits.maxFrameBytes) + 1)
        #expect(throws: WireError.frameTooLarge(WireLimits.maxFrameBytes + 1)) {
            try channel.writeInbound(header)
        }
        _ = try? channel.finish()
    }

    @Test func unauthenticatedFramesAreBoundedUntilTheLimitIsRaised() throws {
        // A snapshot chunk of ~1.3 KB: fine for an authenticated peer, refused before.
        let big = Message.snapshotTable(
            SnapshotChunk(
                id: TableID(1), name: "T",
                entries: (0..<20).map { Entry(key: "key-\($0)", value: String(repeating: "v", count: 50)) }))
        var frame = ByteBuffer()
        let size = try frame.writeFrame(big)
        #expect(size > FrameLimit.unauthenticated)

        let limit = FrameLimit()
        let before = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(limit: limit)))
        #expect(throws: WireError.self) { try before.writeInbound(frame) }
        _ = try? before.finish()

        // A hello still fits before authentication.
        var hello = ByteBuffer()
        try hello.writeFrame(
            .hello(Hello(role: .agent, nonce: Samples.nonce, name: String(repeating: "h", count: 255))))
        let handshake = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(limit: FrameLimit())))
        try handshake.writeInbound(hello)
        #expect(try handshake.readInbound(as: Message.self) != nil)
        _ = try? handshake.finish()

        limit.authenticated()
        let after = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(limit: limit)))
        try after.writeInbound(frame)
        #expect(try after.readInbound(as: Message.self) == big)
        #expect(try after.finish().isClean)
    }

    @Test func encoderRefusesAnOverlongField() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(FrameEncoder()))
        let bad = Message.change(Change(version: .zero, mutation: .delete(TableID(1), key: Samples.longKey + "x")))
        #expect(throws: WireError.self) { try channel.writeOutbound(bad) }
        _ = try? channel.finish()
    }
}
