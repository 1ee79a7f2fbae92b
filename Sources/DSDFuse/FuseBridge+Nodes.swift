import CFuse
import CFuseShim
import DSDCore
import Glibc

/// Lookup, attributes, directories and reads.
extension FuseBridge {
    func entryParam(ino: UInt64, st: Glibc.stat, entryTimeout: Double, attrTimeout: Double) -> fuse_entry_param {
        var param = fuse_entry_param()
        param.ino = ino
        param.attr = st
        param.entry_timeout = entryTimeout
        param.attr_timeout = attrTimeout
        return param
    }

    func lookup(_ reply: consuming Reply, parent: UInt64, name: String) {
        let reflector = isReflector(reply.req)
        guard let parentKind = state.withLock({ $0.tree.kind(of: parent) }) else { return reply.error(ENOENT) }
        // The main session's `events` is an empty directory: the events session is mounted on it.
        if role == .main, parentKind == .eventsDir { return reply.error(ENOENT) }
        guard let kind = parentKind.child(named: name) else { return negative(reply, parentKind) }
        let probeIno = state.withLock { $0.tree.ino(of: kind) } ?? 0
        switch describe(kind, ino: probeIno, reflector: reflector) {
        case .failure(let errno):
            if errno.code == ENOENT, !uncachedNegative(kind) { return negative(reply, parentKind) }
            return reply.error(errno.code)
        case .success(let described):
            var st = described.0
            let bytes = described.1
            // Names in flight (being reflected, or created and not yet written) are not cached.
            let volatile = isVolatile(kind)
            let ino = state.withLock { s in
                let ino = s.tree.remember(kind)
                if let bytes { s.shown[ino] = bytes }
                return ino
            }
            st.st_ino = ino_t(ino)
            let timeout = volatile ? 0 : settings.cacheTimeout
            reply.entry(
                entryParam(ino: ino, st: st, entryTimeout: timeout, attrTimeout: volatile ? 0 : attrTimeout(kind)))
        }
    }

    /// ENOENT cached by the kernel where a creation always invalidates it (tables, entries).
    private func negative(_ reply: consuming Reply, _ parentKind: NodeKind) {
        switch parentKind {
        case .tablesDir, .table, .root:
            var param = fuse_entry_param()
            param.ino = 0
            param.entry_timeout = settings.cacheTimeout
            reply.entry(param)
        default:
            reply.error(ENOENT)
        }
    }

    private func uncachedNegative(_ kind: NodeKind) -> Bool {
        switch kind {
        case .entry(let table, let key):
            let path = PathKey(table: table, key: key)
            return state.withLock { $0.reflecting[path] != nil }
        case .table(let table):
            let path = PathKey(table: table, key: nil)
            return state.withLock { $0.reflecting[path] != nil }
        default:
            return true
        }
    }

    private func isVolatile(_ kind: NodeKind) -> Bool {
        let path: PathKey
        switch kind {
        case .entry(let table, let key): path = PathKey(table: table, key: key)
        case .table(let table): path = PathKey(table: table, key: nil)
        default: return false
        }
        return state.withLock {
            $0.reflecting[path] != nil || $0.provisional.contains(path)
        }
    }

    func forget(_ ino: UInt64, count: UInt64) {
        state.withLock { $0.forget(ino, count: count) }
    }

    func getattr(_ reply: consuming Reply, ino: UInt64) {
        guard let kind = state.withLock({ $0.tree.kind(of: ino) }) else { return reply.error(ENOENT) }
        switch attributes(of: kind, ino: ino, reflector: isReflector(reply.req)) {
        case .success(let st): reply.attr(st, timeout: isVolatile(kind) ? 0 : attrTimeout(kind))
        case .failure(let errno): reply.error(errno.code)
        }
    }

    // MARK: directories

    func opendir(_ reply: consuming Reply, ino: UInt64, fi: UnsafeMutablePointer<fuse_file_info>) {
        guard let kind = state.withLock({ $0.tree.kind(of: ino) }) else { return reply.error(ENOENT) }
        var names: [(String, NodeKind)] = []
        switch kind {
        case .root:
            names = NodeKind.rootChildren
        case .eventsDir where role == .main:
            names = []
        case .tablesDir, .partDir, .eventsDir:
            names = backend.tableNames().sorted().compactMap { name in kind.child(named: name).map { (name, $0) } }
        case .table(let table):
            guard let entries = backend.entries(table: table) else { return reply.error(ENOENT) }
            names = entries.map { ($0.key, NodeKind.entry(table: table, key: $0.key)) }
        case .findDir, .partTable, .eventsTable:
            names = []
        default:
            return reply.error(ENOTDIR)
        }
        // "." and ".." first, so readdir walks the stored listing without copying it.
        let listing: [(String, UInt64, Bool)] = state.withLock { s in
            let parentIno = kind.parent.flatMap { s.tree.ino(of: $0.0) } ?? FileTree.rootIno
            return [(".", ino, true), ("..", parentIno, true)]
                + names.map { name, child in
                    (name, s.tree.ino(of: child) ?? Self.placeholderIno(child), child.isDirectory)
                }
        }
        fi.pointee.fh = state.withLock { $0.addHandle(.listing(listing)) }
        reply.open(fi)
    }

    /// `d_ino` of a name the kernel has not looked up: a stable hash, never a real node number.
    static func placeholderIno(_ kind: NodeKind) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in kind.relativePath.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash | (1 << 62)
    }

    func readdir(_ reply: consuming Reply, ino: UInt64, size: Int, offset: Int, fh: UInt64) {
        guard case .listing(let all)? = state.withLock({ $0.handles[fh] }) else { return reply.error(EBADF) }
        let req = reply.req
        var buffer = [UInt8](repeating: 0, count: size)
        var used = 0
        var index = offset
        while index < all.count {
            let (name, childIno, isDir) = all[index]
            var st = Glibc.stat()
            st.st_ino = ino_t(childIno)
            st.st_mode = isDir ? S_IFDIR : S_IFREG
            let needed = buffer.withUnsafeMutableBytes { raw in
                name.withCString { cname in
                    fuse_add_direntry(
                        req, raw.baseAddress!.advanced(by: used).assumingMemoryBound(to: CChar.self),
                        size - used, cname, &st, off_t(index + 1))
                }
            }
            if used + needed > size { break }
            used += needed
            index += 1
        }
        reply.buffer(buffer.prefix(used))
    }

    func releasedir(_ reply: consuming Reply, fh: UInt64) {
        _ = state.withLock { $0.handles.removeValue(forKey: fh) }
        reply.ok()
    }

    // MARK: files

    /// Main session: every regular file answers ENOSYS, which makes the kernel stop sending
    /// OPEN (and RELEASE) for the whole connection (no-open: FUSE-FACTS); files are then read
    /// through the page cache (`keep_cache` is the kernel's default without open) and written
    /// through it (write-through, fh 0). Events session: stream files subscribe.
    func open(_ reply: consuming Reply, ino: UInt64, fi: UnsafeMutablePointer<fuse_file_info>) {
        guard let kind = state.withLock({ $0.tree.kind(of: ino) }) else { return reply.error(ENOENT) }
        switch kind {
        case .entry, .find, .part, .status:
            reply.error(ENOSYS)
        case .events(let table, let prefix):
            guard backend.tableExists(table) else { return reply.error(ENOENT) }
            openStream(reply, table: table, prefix: prefix, fi: fi)
        default:
            reply.error(EISDIR)
        }
    }

    /// Regular files serve the bytes whose size the kernel was last told (`BridgeState.shown`),
    /// or, never described yet, what they show now.
    func read(_ reply: consuming Reply, ino: UInt64, size: Int, offset: Int, fi: UnsafeMutablePointer<fuse_file_info>) {
        guard let kind = state.withLock({ $0.tree.kind(of: ino) }) else { return reply.error(ENOENT) }
        switch kind {
        case .entry, .find, .part, .status:
            if let shown = state.withLock({ $0.shown[ino] }) {
                return reply.buffer(Self.slice(shown, offset: offset, size: size))
            }
            switch attributes(of: kind, ino: ino, reflector: false) {
            case .success: reply.buffer(Self.slice(state.withLock { $0.shown[ino] } ?? [], offset: offset, size: size))
            case .failure(let errno): reply.error(errno.code)
            }
        case .events:
            readStream(reply, id: fi.pointee.fh, size: size, nonBlocking: fi.pointee.flags & O_NONBLOCK != 0)
        default:
            reply.error(EISDIR)
        }
    }

    static func slice(_ bytes: [UInt8], offset: Int, size: Int) -> ArraySlice<UInt8> {
        guard offset < bytes.count else { return [] }
        return bytes[offset..<min(bytes.count, offset + size)]
    }

    func release(_ reply: consuming Reply, ino: UInt64, fi: UnsafeMutablePointer<fuse_file_info>) {
        let kind = state.withLock { $0.tree.kind(of: ino) }
        if case .events? = kind {
            releaseStream(id: fi.pointee.fh)
        } else if fi.pointee.fh != 0 {
            state.withLock { s in
                if case .provisional(let path)? = s.handles.removeValue(forKey: fi.pointee.fh) {
                    s.provisional.remove(path)
                }
            }
        }
        reply.ok()
    }

    func poll(_ reply: consuming Reply, ino: UInt64, fi: UnsafeMutablePointer<fuse_file_info>, handle: OpaquePointer?) {
        if case .events? = state.withLock({ $0.tree.kind(of: ino) }) {
            return pollStream(reply, id: fi.pointee.fh, handle: handle)
        }
        if let handle { fuse_pollhandle_destroy(handle) }
        reply.poll(UInt32(POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM))
    }
}
