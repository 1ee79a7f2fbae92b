import NIOCore
import Synchronization

/// Hands a connection's record ciphers from its `HandshakeHandler` to the handlers that use
/// them: `FrameDecoder` (inbound) and `RecordSealer` (outbound). All three are created for one
/// channel and share one `SessionSeal`.
///
/// The handshake installs the outbound cipher right after writing its `authOK` (the last clear
/// frame it sends) and the inbound one on reading the peer's `authOK` (the last clear frame
/// the peer sends); the handlers take each cipher once and own it from then on.
public final class SessionSeal: Sendable {
    private struct Pending {
        var outbound: RecordCipher?
        var inbound: RecordCipher?
    }

    private let pending = Mutex(Pending())
    /// Records per key, for both directions (see `RecordCipher.defaultRecordsPerKey`).
    public let recordsPerKey: UInt64

    public init(recordsPerKey: UInt64 = RecordCipher.defaultRecordsPerKey) {
        self.recordsPerKey = recordsPerKey
    }

    func install(outbound key: SessionKeys) {
        let cipher = RecordCipher(key: key.outbound, recordsPerKey: recordsPerKey)
        pending.withLock { $0.outbound = cipher }
    }

    func install(inbound key: SessionKeys) {
        let cipher = RecordCipher(key: key.inbound, recordsPerKey: recordsPerKey)
        pending.withLock { $0.inbound = cipher }
    }

    func takeOutbound() -> RecordCipher? {
        pending.withLock { value in
            defer { value.outbound = nil }
            return value.outbound
        }
    }

    func takeInbound() -> RecordCipher? {
        pending.withLock { value in
            defer { value.inbound = nil }
            return value.inbound
        }
    }
}

/// Seals a connection's outbound bytes once its handshake succeeded (place it below every
/// handler that writes bytes, just above the socket). Until then bytes pass in the clear.
///
/// Sealed bytes are held until `flush` and go out as records of at most
/// `WireLimits.maxRecordBytes`: the frames written between two flushes (a push batch, a reply
/// and its pings) share one record and one tag. A close seals and sends what is held first.
public final class RecordSealer: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let seal: SessionSeal
    private var cipher: RecordCipher?
    private var held: ByteBuffer?
    private var promises: [EventLoopPromise<Void>] = []

    public init(seal: SessionSeal) {
        self.seal = seal
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if cipher == nil { cipher = seal.takeOutbound() }
        guard cipher != nil else {
            context.write(data, promise: promise)
            return
        }
        var bytes = unwrapOutboundIn(data)
        if held == nil {
            held = bytes
        } else {
            held!.writeBuffer(&bytes)
        }
        if let promise { promises.append(promise) }
    }

    public func flush(context: ChannelHandlerContext) {
        sealHeld(context: context)
        context.flush()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        sealHeld(context: context)
        context.flush()
        context.close(mode: mode, promise: promise)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        let waiting = promises
        promises = []
        held = nil
        for promise in waiting { promise.fail(ChannelError.ioOnClosedChannel) }
    }

    private func sealHeld(context: ChannelHandlerContext) {
        guard var plaintext = held, var cipher else { return }
        held = nil
        var records = context.channel.allocator.buffer(
            capacity: plaintext.readableBytes + 24 * (1 + plaintext.readableBytes / WireLimits.maxRecordBytes))
        while plaintext.readableBytes > 0 {
            let slice = plaintext.readSlice(length: min(plaintext.readableBytes, WireLimits.maxRecordBytes))!
            cipher.seal(slice.readableBytesView, into: &records)
        }
        self.cipher = cipher
        let waiting = promises
        promises = []
        let written = context.write(wrapOutboundOut(records))
        if !waiting.isEmpty {
            written.whenComplete { result in
                for promise in waiting { promise.completeWith(result) }
            }
        }
    }
}
