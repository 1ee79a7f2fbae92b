import FoundationEssentials
import NIOCore
import NIOHTTP1

/// An established watch: the updates etcd sends, in order, read from the chunked answer of
/// one `POST /v3/watch` (newline-delimited JSON, one watch response per line). The first is
/// `.created` (unless etcd refuses the watch outright); `.compacted` and `.canceled` end the
/// sequence. A stream that breaks throws
/// `EtcdError.watchInterrupted`: watch again from the last revision seen + 1.
///
/// It can be iterated once, inside the `EtcdClient.watch` closure that received it.
public struct EtcdWatch: AsyncSequence {
    public typealias Element = WatchUpdate

    /// The member serving this watch.
    public let endpoint: EtcdEndpoint
    private let iterator: Iterator

    init(
        endpoint: EtcdEndpoint, parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator,
        maxLineBytes: Int
    ) {
        self.endpoint = endpoint
        self.iterator = Iterator(endpoint: endpoint, parts: parts, maxLineBytes: maxLineBytes)
    }

    public func makeAsyncIterator() -> Iterator { iterator }

    public struct Iterator: AsyncIteratorProtocol {
        let endpoint: EtcdEndpoint
        var parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
        let maxLineBytes: Int
        var pending = ByteBuffer()
        var finished = false

        init(
            endpoint: EtcdEndpoint, parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator,
            maxLineBytes: Int
        ) {
            self.endpoint = endpoint
            self.parts = parts
            self.maxLineBytes = maxLineBytes
        }

        public mutating func next() async throws -> WatchUpdate? {
            while !finished {
                if let line = nextLine() {
                    guard line.readableBytes > 0 else { continue }
                    let update = try parse(line)
                    switch update {
                    case .compacted, .canceled: finished = true
                    case .created, .events, .progress: break
                    }
                    return update
                }
                let part: HTTPClientResponsePart?
                do {
                    part = try await parts.next()
                } catch {
                    try Task.checkCancellation()
                    throw EtcdError.watchInterrupted(endpoint: endpoint, .connectionLost)
                }
                switch part {
                case .body(var chunk):
                    pending.writeBuffer(&chunk)
                    if pending.readableBytes > maxLineBytes, pending.readableBytesView.firstIndex(of: 0x0a) == nil {
                        throw EtcdError.malformedAnswer(
                            .watch, endpoint: endpoint, detail: "a watch response exceeds \(maxLineBytes) bytes")
                    }
                case .head:
                    continue
                case .end, nil:
                    try Task.checkCancellation()
                    throw EtcdError.watchInterrupted(endpoint: endpoint, .connectionLost)
                }
            }
            return nil
        }

        /// The next complete line (without its newline), if one has arrived.
        private mutating func nextLine() -> ByteBuffer? {
            guard let newline = pending.readableBytesView.firstIndex(of: 0x0a) else { return nil }
            let length = newline - pending.readerIndex
            let line = pending.readSlice(length: length)
            pending.moveReaderIndex(forwardBy: 1)
            pending.discardReadBytes()
            return line
        }

        private func parse(_ line: ByteBuffer) throws -> WatchUpdate {
            let wrapped: Wire.Wrapped<Wire.WatchResponse>
            do {
                wrapped = try JSONDecoder().decode(
                    Wire.Wrapped<Wire.WatchResponse>.self, from: Data(line.readableBytesView))
            } catch {
                throw EtcdError.malformedAnswer(.watch, endpoint: endpoint, detail: "a line is not a watch response")
            }
            if let error = wrapped.error {
                let failure: EtcdError.Failure =
                    switch error.verdict(status: 503, operation: .watch) {
                    case .retry(let failure), .stop(let failure): failure
                    case .reject: .unavailable(error.text)
                    }
                throw EtcdError.watchInterrupted(endpoint: endpoint, failure)
            }
            guard let response = wrapped.result else {
                throw EtcdError.malformedAnswer(.watch, endpoint: endpoint, detail: "a line has no result")
            }
            do {
                return try Self.update(response)
            } catch {
                throw EtcdError.malformedAnswer(.watch, endpoint: endpoint, detail: error.detail)
            }
        }

        static func update(_ response: Wire.WatchResponse) throws(WireProblem) -> WatchUpdate {
            let revision = try Wire.decodeInt(response.header?.revision, "revision")
            if response.canceled ?? false {
                let compacted = try Wire.decodeInt(response.compact_revision, "compact_revision")
                if compacted > 0 { return .compacted(compactRevision: compacted) }
                return .canceled(reason: response.cancel_reason ?? "")
            }
            if response.created ?? false { return .created(revision: revision) }
            let events = response.events ?? []
            if events.isEmpty { return .progress(revision: revision) }
            var decoded: [WatchEvent] = []
            decoded.reserveCapacity(events.count)
            for event in events {
                guard let kv = event.kv else { throw WireProblem("a watch event has no key") }
                let kind: WatchEvent.Kind
                switch event.type {
                case nil, "PUT": kind = .put
                case "DELETE": kind = .delete
                case let other?: throw WireProblem("unknown watch event type \(other)")
                }
                decoded.append(WatchEvent(kind: kind, kv: try kv.decoded(), previous: try event.prev_kv?.decoded()))
            }
            return .events(decoded, revision: revision)
        }
    }
}
