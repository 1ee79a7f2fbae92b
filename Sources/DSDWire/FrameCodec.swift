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
///
/// With a `SessionSeal`, once the handshake installed the inbound cipher (on the peer's
/// `authOK`), every later byte must arrive in sealed records: each is opened in order and its
/// plaintext split into frames. A record that does not open throws `.unsealFailed`. Until then
/// the decoder hands on one clear frame per step, so the cipher is in place before the next
/// byte is read.
public struct FrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = Message

    private let limit: FrameLimit?
    private let seal: SessionSeal?
    private var cipher: RecordCipher?
    /// Opened bytes not yet decoded into frames (a frame may span records).
    private var opened = ByteBuffer()

    /// A decoder for full-size frames, or bounded by `limit` (see `FrameLimit`); sealed after
    /// the handshake when `seal` is given (see `SessionSeal`).
    public init(limit: FrameLimit? = nil, seal: SessionSeal? = nil) {
        self.limit = limit
        self.seal = seal
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let maxBytes = limit?.current ?? WireLimits.maxFrameBytes
        if cipher == nil, let seal { cipher = seal.takeInbound() }
        guard var cipher else {
            guard let message = try buffer.readFrame(maxBytes: maxBytes) else { return .needMoreData }
            context.fireChannelRead(Self.wrapInboundOut(message))
            return .continue
        }
        while try cipher.open(&buffer, into: &opened) {}
        self.cipher = cipher
        // Every whole frame now: the handler calls again only when more bytes arrive.
        while let message = try opened.readFrame(maxBytes: maxBytes) {
            context.fireChannelRead(Self.wrapInboundOut(message))
        }
        opened.discardReadBytes()
        return .needMoreData
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
