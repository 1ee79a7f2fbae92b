import CFuse
import CFuseShim
import DSDCore
import Glibc

/// Writes, creation, deletion, heartbeats. A request from the reflector thread is a replica
/// change being replayed for inotify: it is acknowledged without calling the backend.
extension FuseBridge {
    /// A write is a whole entry line at offset 0. A write at any other offset (a second
    /// `write(2)` of one `printf`, `>>`) gets EINVAL and changes nothing: each write would
    /// otherwise commit on its own and the last fragment would win.
    func write(_ reply: consuming Reply, ino: UInt64, bytes: UnsafeRawBufferPointer, offset: Int) {
        // Root passes `default_permissions`' mode check on the read-only files: refuse here.
        guard case .entry(let table, let key)? = state.withLock({ $0.tree.kind(of: ino) }) else {
            return reply.error(EACCES)
        }
        if isReflector(reply.req) { return reply.written(bytes.count) }
        guard offset == 0 else { return reply.error(EINVAL) }
        let line: (value: String, valid: Bool)
        do throws(EntryLineError) {
            line = try EntryLine.parse(bytes)
        } catch {
            return reply.error(FuseErrno.of(error))
        }
        let path = PathKey(table: table, key: key)
        let entry = Entry(key: key, value: line.value, valid: line.valid)
        let op = state.withLock { $0.beginLocal(path, .put(value: entry.value, valid: entry.valid)) }
        do throws(BackendError) {
            try backend.put(table: table, entry: entry)
        } catch {
            _ = state.withLock { $0.endLocal(path, id: op, succeeded: false, now: .now) }
            return reply.error(FuseErrno.of(error))
        }
        state.withLock { s in
            s.provisional.remove(path)
            s.mtimes[path] = WallClock.now()
            s.shown[ino] = EntryLine.content(of: entry)
        }
        // The kernel keeps the written line in its page cache and trusts its own size after a
        // write-through; mark the attributes stale so the next read asks (GETATTR: committed
        // size and new mtime), which drops those pages.
        invalidateAttributes(ino)
        reply.written(bytes.count)
        finishLocal(path, op: op)
    }

    /// After the reply: if the replica event came meanwhile, have the notifier invalidate a
    /// table name now. An entry's pages are not invalidated: its attributes were marked stale
    /// before the reply, and the next read's GETATTR (new size, new mtime) drops the pages
    /// holding the written line. An `inval_inode` racing that GETATTR would make the kernel
    /// discard its reply (attribute version) and read the committed text with the old size.
    private func finishLocal(_ path: PathKey, op: UInt64) {
        if state.withLock({ $0.endLocal(path, id: op, succeeded: true, now: .now) }), path.key == nil {
            notifier?.enqueue(.invalidate(path))
        }
    }

    /// create(2) / open(O_CREAT) of a new key: the file exists (empty, uncached) until its first
    /// write adds the entry; closing it unwritten adds nothing.
    func create(
        _ reply: consuming Reply, parent: UInt64, name: String, fi: UnsafeMutablePointer<fuse_file_info>?
    ) {
        guard case .table(let table)? = state.withLock({ $0.tree.kind(of: parent) }) else {
            return reply.error(EPERM)
        }
        do throws(NameError) { try Names.validateKey(name) } catch { return reply.error(FuseErrno.of(error)) }
        guard backend.tableExists(table) else { return reply.error(ENOENT) }
        let kind = NodeKind.entry(table: table, key: name)
        let path = PathKey(table: table, key: name)
        let reflector = isReflector(reply.req)
        if !reflector, backend.entry(table: table, key: name) == nil {
            state.withLock { s in
                s.provisional.insert(path)
                s.mtimes[path] = WallClock.now()
            }
        }
        let ino = state.withLock { s in
            // The reflector's create makes the name present for the rest of its replay.
            if reflector, case .creating(let size)? = s.reflecting[path] { s.reflecting[path] = .present(size: size) }
            return s.tree.remember(kind)
        }
        let st: Glibc.stat
        switch attributes(of: kind, ino: ino, reflector: reflector) {
        case .success(let found): st = found
        case .failure(let errno):
            state.withLock { $0.forget(ino, count: 1) }
            return reply.error(errno.code)
        }
        let timeout = reflector ? settings.cacheTimeout : 0
        let param = entryParam(ino: ino, st: st, entryTimeout: timeout, attrTimeout: timeout)
        guard let fi else { return reply.entry(param) }
        fi.pointee.fh = reflector ? 0 : state.withLock { $0.addHandle(.provisional(path)) }
        cfuse_fi_set_open_flags(fi, 1, 0, 0, 1)
        reply.create(param, fi)
    }

    func unlink(_ reply: consuming Reply, parent: UInt64, name: String) {
        guard case .table(let table)? = state.withLock({ $0.tree.kind(of: parent) }) else {
            return reply.error(EPERM)
        }
        if isReflector(reply.req) { return reply.ok() }
        let path = PathKey(table: table, key: name)
        if backend.entry(table: table, key: name) == nil,
            state.withLock({ $0.provisional.remove(path) != nil })
        {
            return reply.ok()
        }
        let op = state.withLock { $0.beginLocal(path, .delete) }
        do throws(BackendError) {
            try backend.delete(table: table, key: name)
        } catch {
            _ = state.withLock { $0.endLocal(path, id: op, succeeded: false, now: .now) }
            return reply.error(FuseErrno.of(error))
        }
        reply.ok()
        finishLocal(path, op: op)
    }

    func mkdir(_ reply: consuming Reply, parent: UInt64, name: String) {
        guard state.withLock({ $0.tree.kind(of: parent) }) == .tablesDir else { return reply.error(EPERM) }
        do throws(NameError) { try Names.validateTable(name) } catch { return reply.error(FuseErrno.of(error)) }
        let path = PathKey(table: name, key: nil)
        var op: UInt64?
        if !isReflector(reply.req) {
            let id = state.withLock { $0.beginLocal(path, .tableCreate) }
            do throws(BackendError) {
                try backend.createTable(name)
            } catch {
                _ = state.withLock { $0.endLocal(path, id: id, succeeded: false, now: .now) }
                return reply.error(FuseErrno.of(error))
            }
            op = id
        }
        let ino = state.withLock { $0.tree.remember(.table(name)) }
        let st = stat(ino: ino, mode: S_IFDIR | 0o775, size: 0, mtime: mountTime)
        reply.entry(
            entryParam(ino: ino, st: st, entryTimeout: settings.cacheTimeout, attrTimeout: settings.cacheTimeout))
        if let op { finishLocal(path, op: op) }
    }

    func rmdir(_ reply: consuming Reply, parent: UInt64, name: String) {
        guard state.withLock({ $0.tree.kind(of: parent) }) == .tablesDir else { return reply.error(EPERM) }
        if isReflector(reply.req) { return reply.ok() }
        let path = PathKey(table: name, key: nil)
        let op = state.withLock { $0.beginLocal(path, .tableDrop) }
        do throws(BackendError) {
            try backend.dropEmptyTable(name)
        } catch {
            _ = state.withLock { $0.endLocal(path, id: op, succeeded: false, now: .now) }
            return reply.error(FuseErrno.of(error))
        }
        reply.ok()
        finishLocal(path, op: op)
    }

    /// chmod/chown are refused, truncation is ignored (a write replaces the whole line), and a
    /// new mtime on an entry is a heartbeat.
    func setattr(_ reply: consuming Reply, ino: UInt64, attr: Glibc.stat, toSet: Int32) {
        guard let kind = state.withLock({ $0.tree.kind(of: ino) }) else { return reply.error(ENOENT) }
        let reflector = isReflector(reply.req)
        if toSet & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) != 0 { return reply.error(EPERM) }
        let touchesMtime = toSet & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW) != 0
        if case .entry(let table, let key) = kind, touchesMtime {
            let path = PathKey(table: table, key: key)
            let wallNow = WallClock.now()
            let mtime = toSet & FUSE_SET_ATTR_MTIME_NOW != 0 ? wallNow : attr.st_mtim
            if !reflector {
                let deadline = WallClock.deadline(forMtime: mtime, wallNow: wallNow, continuousNow: .now)
                do throws(BackendError) {
                    try backend.heartbeat(table: table, key: key, deadline: deadline)
                } catch {
                    return reply.error(FuseErrno.of(error))
                }
            }
            state.withLock { $0.mtimes[path] = mtime }
        }
        switch attributes(of: kind, ino: ino, reflector: reflector) {
        case .success(let st): reply.attr(st, timeout: isVolatileAttr(kind) ? 0 : attrTimeout(kind))
        case .failure(let errno): reply.error(errno.code)
        }
    }

    private func isVolatileAttr(_ kind: NodeKind) -> Bool {
        guard case .entry(let table, let key) = kind else { return false }
        return state.withLock { $0.provisional.contains(PathKey(table: table, key: key)) }
    }
}
