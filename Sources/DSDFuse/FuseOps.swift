import CFuse
import Glibc

/// The libfuse low-level operation tables: non-generic C trampolines that recover the bridge
/// from the request's userdata and hand it a `Reply`. Unset operations answer ENOSYS in
/// libfuse, which makes the kernel stop sending them (flush, getxattr).
enum FuseOps {
    static func make(_ role: SessionRole) -> fuse_lowlevel_ops {
        switch role {
        case .main: main()
        case .events: events()
        }
    }

    /// The main session: no-open for regular files (the `open` handler answers ENOSYS).
    private static func main() -> fuse_lowlevel_ops {
        var ops = shared()
        ops.`init` = { _, conn in
            guard let conn else { return }
            // With no-open, an atomic O_TRUNC would keep the old tail of a shorter value
            // (FUSE-FACTS): truncation must come as SETATTR, which is ignored (the write
            // replaces the line). Writeback caching would hide writes from the daemon.
            conn.pointee.want &= ~UInt32(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_WRITEBACK_CACHE)
            if conn.pointee.capable & UInt32(FUSE_CAP_NO_OPEN_SUPPORT) != 0 {
                conn.pointee.want |= UInt32(FUSE_CAP_NO_OPEN_SUPPORT)
            }
        }
        return ops
    }

    /// The events session: read-only stream files with open support; every change is refused.
    private static func events() -> fuse_lowlevel_ops {
        var ops = shared()
        ops.`init` = { _, conn in
            guard let conn else { return }
            conn.pointee.want &= ~UInt32(FUSE_CAP_WRITEBACK_CACHE)
        }
        ops.setattr = { req, _, _, _, _ in fuse_reply_err(req, EPERM) }
        ops.create = nil  // the kernel falls back to mknod
        ops.mknod = { req, _, _, _, _ in fuse_reply_err(req, EPERM) }
        ops.mkdir = { req, _, _, _ in fuse_reply_err(req, EPERM) }
        ops.unlink = { req, _, _ in fuse_reply_err(req, EPERM) }
        ops.rmdir = { req, _, _ in fuse_reply_err(req, EPERM) }
        ops.write = nil
        return ops
    }

    /// The handlers both sessions share (each dispatches on the node kinds of its own tree).
    private static func shared() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.lookup = { req, parent, name in
            FuseBridge.from(req).lookup(Reply(req!), parent: parent, name: String(cString: name!))
        }
        ops.forget = { req, ino, count in
            FuseBridge.from(req).forget(ino, count: count)
            fuse_reply_none(req)
        }
        ops.forget_multi = { req, count, forgets in
            let bridge = FuseBridge.from(req)
            for index in 0..<count {
                bridge.forget(forgets![index].ino, count: forgets![index].nlookup)
            }
            fuse_reply_none(req)
        }
        ops.getattr = { req, ino, _ in
            FuseBridge.from(req).getattr(Reply(req!), ino: ino)
        }
        ops.setattr = { req, ino, attr, toSet, _ in
            FuseBridge.from(req).setattr(Reply(req!), ino: ino, attr: attr!.pointee, toSet: toSet)
        }
        ops.mknod = { req, parent, name, mode, _ in
            guard mode & S_IFMT == S_IFREG else {
                fuse_reply_err(req, EPERM)
                return
            }
            FuseBridge.from(req).create(Reply(req!), parent: parent, name: String(cString: name!), fi: nil)
        }
        ops.create = { req, parent, name, _, fi in
            FuseBridge.from(req).create(Reply(req!), parent: parent, name: String(cString: name!), fi: fi)
        }
        ops.mkdir = { req, parent, name, _ in
            FuseBridge.from(req).mkdir(Reply(req!), parent: parent, name: String(cString: name!))
        }
        ops.unlink = { req, parent, name in
            FuseBridge.from(req).unlink(Reply(req!), parent: parent, name: String(cString: name!))
        }
        ops.rmdir = { req, parent, name in
            FuseBridge.from(req).rmdir(Reply(req!), parent: parent, name: String(cString: name!))
        }
        ops.rename = { req, _, _, _, _, _ in
            fuse_reply_err(req, EPERM)
        }
        ops.link = { req, _, _, _ in fuse_reply_err(req, EPERM) }
        ops.symlink = { req, _, _, _ in fuse_reply_err(req, EPERM) }
        ops.open = { req, ino, fi in
            FuseBridge.from(req).open(Reply(req!), ino: ino, fi: fi!)
        }
        ops.read = { req, ino, size, offset, fi in
            FuseBridge.from(req).read(Reply(req!), ino: ino, size: size, offset: Int(offset), fi: fi!)
        }
        ops.write = { req, ino, buf, size, offset, _ in
            FuseBridge.from(req).write(
                Reply(req!), ino: ino, bytes: UnsafeRawBufferPointer(start: buf, count: size), offset: offset)
        }
        ops.release = { req, ino, fi in
            FuseBridge.from(req).release(Reply(req!), ino: ino, fi: fi!)
        }
        ops.opendir = { req, ino, fi in
            FuseBridge.from(req).opendir(Reply(req!), ino: ino, fi: fi!)
        }
        ops.readdir = { req, ino, size, offset, fi in
            FuseBridge.from(req).readdir(Reply(req!), ino: ino, size: size, offset: Int(offset), fh: fi!.pointee.fh)
        }
        ops.releasedir = { req, _, fi in
            FuseBridge.from(req).releasedir(Reply(req!), fh: fi!.pointee.fh)
        }
        ops.poll = { req, ino, fi, ph in
            FuseBridge.from(req).poll(Reply(req!), ino: ino, fi: fi!, handle: ph)
        }
        return ops
    }
}
