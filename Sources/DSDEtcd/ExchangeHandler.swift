import NIOCore
import NIOHTTP1

/// The last handler of a unary connection: takes one `Request` at a time, writes it as an
/// HTTP/1.1 POST and completes the request's promise with the whole answer, all on the
/// connection's event loop (no task hops per part, unlike an async channel).
///
/// The promise is never failed: a connection that ends before the answer is complete
/// completes it with `.ended`, and the caller decides what that means.
final class ExchangeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Request
    typealias OutboundOut = HTTPClientRequestPart

    struct Request: Sendable {
        var head: HTTPRequestHead
        var body: ByteBuffer
        var maxBytes: Int
        var promise: EventLoopPromise<End>
    }

    enum End: Sendable {
        /// The whole answer; `keepAlive` when the connection may carry another request.
        case answered(HTTPExchange.Answer, keepAlive: Bool)
        /// The connection ended first; `heardAnything` when part of an answer had arrived.
        case ended(heardAnything: Bool)
        case tooLarge
    }

    private struct InFlight {
        var promise: EventLoopPromise<End>
        var maxBytes: Int
        var status = 0
        var keepAlive = true
        var heardAnything = false
        var body = ByteBuffer()
    }

    private var inFlight: InFlight?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard inFlight == nil, context.channel.isActive else {
            request.promise.succeed(.ended(heardAnything: false))
            promise?.succeed()
            return
        }
        inFlight = InFlight(promise: request.promise, maxBytes: request.maxBytes)
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil)
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard var current = inFlight else { return }
        current.heardAnything = true
        switch unwrapInboundIn(data) {
        case .head(let head):
            current.status = Int(head.status.code)
            current.keepAlive = head.isKeepAlive
            inFlight = current
        case .body(var chunk):
            guard current.body.readableBytes + chunk.readableBytes <= current.maxBytes else {
                inFlight = nil
                current.promise.succeed(.tooLarge)
                context.close(promise: nil)
                return
            }
            current.body.writeBuffer(&chunk)
            inFlight = current
        case .end:
            inFlight = nil
            current.promise.succeed(
                .answered(HTTPExchange.Answer(status: current.status, body: current.body), keepAlive: current.keepAlive)
            )
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let current = inFlight {
            inFlight = nil
            current.promise.succeed(.ended(heardAnything: current.heardAnything))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
