import CFuse
import CFuseShim
import Glibc

/// `events/<TABLE>/<PREFIX>`: open subscribes, read blocks (parked) until a line is produced,
/// poll reports POLLIN, release unsubscribes.
extension FuseBridge {
    func openStream(
        _ reply: consuming Reply, table: String, prefix: String, fi: UnsafeMutablePointer<fuse_file_info>
    ) {
        if fi.pointee.flags & O_ACCMODE != O_RDONLY { return reply.error(EACCES) }
        let bound = settings.eventQueueBound
        let id: UInt64? = streams.withLock { all in
            if all.closing { return nil }
            let id = all.nextID
            all.nextID += 1
            all.streams[id] = StreamTable.Stream(
                table: table, prefix: prefix, queue: EventQueue(bound: bound), parked: nil, pollHandle: nil)
            return id
        }
        guard let id else { return reply.error(ESHUTDOWN) }
        fi.pointee.fh = id
        cfuse_fi_set_open_flags(fi, 1, 0, 1, 1)
        reply.open(fi)
    }

    func readStream(_ reply: consuming Reply, id: UInt64, size: Int, nonBlocking: Bool) {
        enum First { case data([UInt8]), again, eof, wait }
        let first: First = streams.withLock { all in
            guard var stream = all.streams[id] else { return .eof }
            if !stream.queue.isEmpty {
                let bytes = stream.queue.take(maxBytes: size)
                all.streams[id] = stream
                return .data(bytes)
            }
            if all.closing { return .eof }
            return nonBlocking ? .again : .wait
        }
        switch first {
        case .data(let bytes): return reply.buffer(bytes)
        case .again: return reply.error(EAGAIN)
        case .eof: return reply.buffer([])
        case .wait: break
        }
        // Register the interrupt callback before the request becomes visible to producers:
        // libfuse may call it at once, and it takes the streams lock itself.
        let token = streams.withLock { all in
            defer { all.nextToken += 1 }
            return all.nextToken
        }
        let parked = ParkedRequest(reply.park())
        let req = parked.req
        fuse_req_interrupt_func(
            req,
            { req, data in
                FuseBridge.from(req).interruptRead(token: UInt64(UInt(bitPattern: data)))
            }, UnsafeMutableRawPointer(bitPattern: UInt(token)))
        streams.withLock { all in
            let req = parked.req
            if all.interruptedEarly.remove(token) != nil { return Reply(req).error(EINTR) }
            guard var stream = all.streams[id], !all.closing else { return Reply(req).buffer([]) }
            if !stream.queue.isEmpty {
                let bytes = stream.queue.take(maxBytes: size)
                all.streams[id] = stream
                return Reply(req).buffer(bytes)
            }
            if let old = stream.parked { Reply(old.req).error(EINTR) }
            stream.parked = (req, size, token)
            all.streams[id] = stream
        }
    }

    func interruptRead(token: UInt64) {
        streams.withLock { all in
            for (id, stream) in all.streams {
                if let parked = stream.parked, parked.token == token {
                    all.streams[id]!.parked = nil
                    Reply(parked.req).error(EINTR)
                    return
                }
            }
            all.interruptedEarly.insert(token)
        }
    }

    func pollStream(_ reply: consuming Reply, id: UInt64, handle: OpaquePointer?) {
        let owned = handle.map(PollHandle.init)
        let ready: Bool = streams.withLock { all in
            let handle = owned?.pointer
            guard var stream = all.streams[id] else { return true }
            let ready = !stream.queue.isEmpty || all.closing
            if let handle {
                if let old = stream.pollHandle { fuse_pollhandle_destroy(old) }
                stream.pollHandle = ready ? nil : handle
                if ready { fuse_pollhandle_destroy(handle) }
            }
            all.streams[id] = stream
            return ready
        }
        reply.poll(ready ? UInt32(POLLIN | POLLRDNORM) : 0)
    }

    func releaseStream(id: UInt64) {
        streams.withLock { $0.remove(id) }
    }
}

/// A request handed from a handler to the streams table. Safe to send: a parked request has
/// exactly one owner at a time, and ownership moves only under the `streams` lock.
struct ParkedRequest: @unchecked Sendable {
    let req: fuse_req_t
    init(_ req: fuse_req_t) { self.req = req }
}

/// A poll handle handed from the poll handler to the streams table (one owner at a time,
/// moved under the `streams` lock).
struct PollHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}
