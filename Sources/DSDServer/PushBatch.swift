import DSDCore
import DSDWire
import NIOCore

/// Changes that became durable together, pushed to every peer.
///
/// Nearly every peer gets the whole batch (`PeerFeed.Directive.sendAllDurable`); its frames are
/// encoded once, on first use, and the same bytes are written to every such peer (a
/// `ByteBuffer` shares its storage), instead of one encoding per change per connection.
/// Confined to the engine's event loop, like the peers.
final class PushBatch {
    let changes: [Change]

    init(_ changes: [Change]) {
        self.changes = changes
    }

    /// The batch as consecutive frames, or nil when a change cannot be encoded (it then goes
    /// through the peer's own encoder, which reports the error).
    private(set) lazy var frames: ByteBuffer? = {
        var buffer = ByteBufferAllocator().buffer(capacity: changes.count * 64)
        for change in changes {
            do throws(WireError) {
                _ = try buffer.writeFrame(.change(change))
            } catch {
                return nil
            }
        }
        return buffer
    }()
}

/// Marks where pre-encoded frames enter a directory connection's pipeline: just below the
/// frame encoder, so `PushBatch` bytes reach the socket as they are, in order with the
/// messages the encoder writes (both paths write synchronously on the channel's loop).
final class FramesOut: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
}
