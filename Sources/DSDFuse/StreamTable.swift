import CFuse
import DSDCore

/// The open `events` files, guarded by `FuseBridge.streams`. Parked reads and poll handles are
/// answered under that lock by whoever produces data, so lines leave in production order.
struct StreamTable {
    struct Stream {
        var table: String
        var prefix: String
        var queue: EventQueue
        var parked: (req: fuse_req_t, size: Int, token: UInt64)?
        var pollHandle: OpaquePointer?

        func matches(table: String, key: String) -> Bool {
            table == self.table && key.utf8.starts(with: prefix.utf8)
        }
    }

    var streams: [UInt64: Stream] = [:]
    var nextID: UInt64 = 1
    var nextToken: UInt64 = 1
    /// Tokens of reads interrupted before they were parked.
    var interruptedEarly: Set<UInt64> = []
    var closing = false

    /// Queues a line on every matching stream and wakes its reader. Call with the lock held.
    mutating func publish(table: String, key: String, line: [UInt8]) {
        for id in Array(streams.keys) where streams[id]!.matches(table: table, key: key) {
            streams[id]!.queue.push(line)
            wake(id)
        }
    }

    /// Tells every stream of `table` to re-read it: what is queued is dropped for one `RESCAN`.
    /// Call with the lock held.
    mutating func rescan(table: String) {
        for id in Array(streams.keys) where streams[id]!.table == table {
            streams[id]!.queue.replaceWithRescan()
            wake(id)
        }
    }

    /// Answers a parked read and a pending poll of stream `id` if it has data.
    mutating func wake(_ id: UInt64) {
        guard var stream = streams[id] else { return }
        if let parked = stream.parked, !stream.queue.isEmpty {
            let bytes = stream.queue.take(maxBytes: parked.size)
            Reply(parked.req).buffer(bytes)
            stream.parked = nil
        }
        if let ph = stream.pollHandle, !stream.queue.isEmpty {
            fuse_lowlevel_notify_poll(ph)
            fuse_pollhandle_destroy(ph)
            stream.pollHandle = nil
        }
        streams[id] = stream
    }

    /// Ends every stream: parked reads get end-of-file, pollers are woken.
    mutating func closeAll() {
        closing = true
        for id in Array(streams.keys) {
            if let parked = streams[id]!.parked {
                Reply(parked.req).buffer([])
                streams[id]!.parked = nil
            }
            if let ph = streams[id]!.pollHandle {
                fuse_lowlevel_notify_poll(ph)
                fuse_pollhandle_destroy(ph)
                streams[id]!.pollHandle = nil
            }
        }
    }

    mutating func remove(_ id: UInt64) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        if let parked = stream.parked { Reply(parked.req).buffer([]) }
        if let ph = stream.pollHandle { fuse_pollhandle_destroy(ph) }
    }
}
