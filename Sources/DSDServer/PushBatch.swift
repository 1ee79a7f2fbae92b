import DSDCore
import DSDWire
import NIOCore

/// Changes that became durable together, pushed to every peer.
///
/// Nearly every peer gets the whole batch (`PeerFeed.Directive.sendAllDurable`). Its frames
/// are the changes' log records (`LogCodec`: a change record is the pushed frame), already
/// encoded for the log, so the same bytes are written to every such peer (a `ByteBuffer`
/// shares its storage) instead of one encoding per change per connection.
struct PushBatch {
    let changes: [Change]
    /// The changes' frames, back to back.
    let frames: ByteBuffer

    /// `records[i]` is the log record of `changes[i]`.
    init(changes: [Change], records: [[UInt8]]) {
        self.changes = changes
        var frames = ByteBufferAllocator().buffer(capacity: records.reduce(0) { $0 + $1.count })
        for record in records { frames.writeBytes(record) }
        self.frames = frames
    }
}

/// Marks where pre-encoded frames enter a directory connection's pipeline: just below the
/// frame encoder, so `PushBatch` bytes reach the socket as they are, in order with the
/// messages the encoder writes (both paths write synchronously on the channel's loop).
final class FramesOut: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
}
