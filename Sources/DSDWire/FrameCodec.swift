import NIOCore

/// Splits inbound bytes into messages. Throws `WireError` on a frame that can never be valid;
/// the connection handler then sends `error(.malformed)` and closes.
public struct FrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = Message

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try buffer.readFrame() else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// Writes each outbound message as one frame.
public struct FrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = Message

    public init() {}

    public func encode(data: Message, out: inout ByteBuffer) throws {
        try out.writeFrame(data)
    }
}
