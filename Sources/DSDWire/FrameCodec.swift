import NIOCore
import Synchronization

/// The largest frame a connection accepts right now. Before authentication only handshake
/// frames are valid, and they are small: an unauthenticated peer cannot make the receiver
/// buffer a megabyte by announcing a large frame. The connection handler raises the limit once
/// the peer is authenticated.
public final class FrameLimit: Sendable {
    /// Room for `hello` (a 255-byte name) and `error` messages, far below a session frame.
    public static let unauthenticated = 1024

    private let bytes: Atomic<Int>

    public init(_ bytes: Int = FrameLimit.unauthenticated) {
        self.bytes = Atomic(bytes)
    }

    public var current: Int { bytes.load(ordering: .relaxed) }

    /// Allows full-size frames (`WireLimits.maxFrameBytes`).
    public func authenticated() {
        bytes.store(WireLimits.maxFrameBytes, ordering: .relaxed)
    }
}

/// Splits inbound bytes into messages. Throws `WireError` on a frame that can never be valid;
/// the connection handler then sends `error(.malformed)` and closes.
public struct FrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = Message

    private let limit: FrameLimit?

    /// A decoder for full-size frames, or bounded by `limit` (see `FrameLimit`).
    public init(limit: FrameLimit? = nil) {
        self.limit = limit
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let maxBytes = limit?.current ?? WireLimits.maxFrameBytes
        guard let message = try buffer.readFrame(maxBytes: maxBytes) else { return .needMoreData }
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
