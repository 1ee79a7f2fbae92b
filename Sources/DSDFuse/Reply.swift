import CFuse
import Glibc

/// The answer to one kernel request. Every path ends in exactly one reply: the consuming
/// methods answer and end the value; a `Reply` dropped without answering answers EIO.
struct Reply: ~Copyable {
    let req: fuse_req_t

    init(_ req: fuse_req_t) { self.req = req }

    consuming func error(_ errno: Int32) {
        fuse_reply_err(req, errno)
        discard self
    }

    consuming func ok() {
        fuse_reply_err(req, 0)
        discard self
    }

    consuming func entry(_ param: fuse_entry_param) {
        var param = param
        fuse_reply_entry(req, &param)
        discard self
    }

    consuming func create(_ param: fuse_entry_param, _ fi: UnsafePointer<fuse_file_info>) {
        var param = param
        fuse_reply_create(req, &param, fi)
        discard self
    }

    consuming func attr(_ st: stat, timeout: Double) {
        var st = st
        fuse_reply_attr(req, &st, timeout)
        discard self
    }

    consuming func open(_ fi: UnsafePointer<fuse_file_info>) {
        fuse_reply_open(req, fi)
        discard self
    }

    consuming func buffer(_ bytes: some Collection<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { raw in
            _ = fuse_reply_buf(req, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
        }
        discard self
    }

    consuming func written(_ count: Int) {
        fuse_reply_write(req, count)
        discard self
    }

    consuming func poll(_ revents: UInt32) {
        fuse_reply_poll(req, revents)
        discard self
    }

    /// Keeps the request unanswered (a parked stream read); its new owner must answer it.
    consuming func park() -> fuse_req_t {
        let req = self.req
        discard self
        return req
    }

    deinit { fuse_reply_err(req, EIO) }
}
