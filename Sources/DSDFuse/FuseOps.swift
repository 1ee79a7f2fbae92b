import CFuse
import Glibc

/// The libfuse low-level operation table: non-generic C trampolines that recover the bridge
/// from the request's userdata and hand it a `Reply`. Unset operations answer ENOSYS in
/// libfuse, which makes the kernel stop sending them (flush, getxattr).
enum FuseOps {
    static func make() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { _, conn in
            guard let conn else { return }
            // A truncating open must not empty the kernel's cache of an entry (the write that
            // follows replaces the line); writeback caching would hide writes from the daemon.
            conn.pointee.want &= ~UInt32(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_WRITEBACK_CACHE)
        }
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
        ops.write = { req, ino, buf, size, _, _ in
            FuseBridge.from(req).write(Reply(req!), ino: ino, bytes: UnsafeRawBufferPointer(start: buf, count: size))
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
