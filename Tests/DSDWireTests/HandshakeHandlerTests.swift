import DSDCore
import NIOCore
import NIOEmbedded
import Testing

@testable import DSDWire

/// Records what reaches the end of the pipeline.
final class Recorder: ChannelInboundHandler {
    typealias InboundIn = Message

    var completed: [HandshakeCompleted] = []
    var errors: [any Error] = []
    var messages: [Message] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        messages.append(unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? HandshakeCompleted { completed.append(event) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.append(error)
    }
}

@Suite struct HandshakeHandlerTests {
    static let address = try! SocketAddress(ipAddress: "127.0.0.1", port: 1872)

    static func channel(_ handshake: Handshake) throws -> (EmbeddedChannel, Recorder) {
        let channel = EmbeddedChannel()
        let recorder = Recorder()
        try channel.pipeline.syncOperations.addHandler(
            HandshakeHandler(handshake: handshake, settings: .testing, seal: SessionSeal()))
        try channel.pipeline.syncOperations.addHandler(recorder)
        return (channel, recorder)
    }

    /// Moves outbound messages of each channel to the other until both are quiet.
    static func shuttle(_ a: EmbeddedChannel, _ b: EmbeddedChannel) throws {
        var moved = true
        while moved {
            moved = false
            while let message = try a.readOutbound(as: Message.self) {
                if b.isActive { try b.writeInbound(message) }
                moved = true
            }
            while let message = try b.readOutbound(as: Message.self) {
                if a.isActive { try a.writeInbound(message) }
                moved = true
            }
        }
    }

    static func outbound(_ channel: EmbeddedChannel) throws -> [Message] {
        var messages: [Message] = []
        while let message = try channel.readOutbound(as: Message.self) { messages.append(message) }
        return messages
    }

    @Test func authenticatesAndReleasesQueuedWrites() throws {
        let (agent, agentRecorder) = try Self.channel(HandshakeTests.agent())
        let (directory, directoryRecorder) = try Self.channel(HandshakeTests.directory())
        try agent.connect(to: Self.address).wait()
        try directory.connect(to: Self.address).wait()
        // Written before authentication: held back, then sent first.
        let queued = agent.writeAndFlush(Message.sync(from: nil))
        try Self.shuttle(agent, directory)

        #expect(agentRecorder.completed == [HandshakeCompleted(peerRole: .directory, peerName: "dir")])
        #expect(directoryRecorder.completed == [HandshakeCompleted(peerRole: .agent, peerName: "host1")])
        #expect(try queued.wait() == ())
        #expect(directoryRecorder.messages == [.sync(from: nil)], "handshake frames are not passed on")
        #expect(agentRecorder.messages.isEmpty)

        try directory.writeAndFlush(Message.ping(7)).wait()
        try Self.shuttle(agent, directory)
        #expect(agentRecorder.messages == [.ping(7)])
        #expect(agent.isActive && directory.isActive)
        _ = try agent.finish()
        _ = try directory.finish()
    }

    @Test func wrongKeyClosesBothAndFailsQueuedWrites() throws {
        let (agent, agentRecorder) = try Self.channel(HandshakeTests.agent(key: HandshakeTests.otherKey))
        let (directory, directoryRecorder) = try Self.channel(HandshakeTests.directory())
        try agent.connect(to: Self.address).wait()
        try directory.connect(to: Self.address).wait()
        let queued = agent.writeAndFlush(Message.sync(from: nil))
        try Self.shuttle(agent, directory)

        #expect(!agent.isActive && !directory.isActive)
        #expect(agentRecorder.completed.isEmpty && directoryRecorder.completed.isEmpty)
        #expect(directoryRecorder.errors.contains { ($0 as? HandshakeFailure)?.code == .authFailed })
        #expect(agentRecorder.errors.contains { ($0 as? HandshakeFailure)?.code == .authFailed })
        #expect(throws: HandshakeFailure.self) { try queued.wait() }
        #expect(directoryRecorder.messages.isEmpty)
    }

    @Test func messageBeforeAuthenticationIsRefused() throws {
        let (directory, recorder) = try Self.channel(HandshakeTests.directory())
        try directory.connect(to: Self.address).wait()
        try directory.writeInbound(Message.request(id: 1, .dropTable(TableID(1))))
        let sent = try Self.outbound(directory)
        #expect(sent.map(\.type) == [.hello, .error])
        #expect(sent.last == .error(.malformed, message: "unexpected request during the handshake"))
        #expect(!directory.isActive)
        #expect(recorder.messages.isEmpty)
    }

    @Test func silentPeerTimesOut() throws {
        let (agent, recorder) = try Self.channel(HandshakeTests.agent())
        try agent.connect(to: Self.address).wait()
        agent.embeddedEventLoop.advanceTime(by: HandshakeHandler.Settings.testing.timeout - .milliseconds(1))
        #expect(agent.isActive)
        agent.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try Self.outbound(agent).map(\.type) == [.hello, .error])
        #expect(!agent.isActive)
        #expect(recorder.errors.contains { ($0 as? HandshakeFailure)?.code == .timeout })
    }

    @Test func undecodableFrameIsAnsweredAndClosed() throws {
        let channel = EmbeddedChannel()
        let recorder = Recorder()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
        try channel.pipeline.syncOperations.addHandler(
            HandshakeHandler(handshake: HandshakeTests.directory(), settings: .testing, seal: SessionSeal()))
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: Self.address).wait()
        try channel.writeInbound(ByteBuffer(bytes: [0x01, 0xEE, 0x00]))

        var written = ByteBuffer()
        while var bytes = try channel.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&bytes) }
        #expect(try written.readFrame()?.type == .hello)
        #expect(try written.readFrame() == .error(.malformed, message: "a frame has the unknown message type 238"))
        #expect(!channel.isActive)
        #expect(recorder.errors.contains { ($0 as? WireError) == .unknownType(0xEE) })
    }
}
