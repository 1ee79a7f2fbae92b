import CFuse
import CFuseShim
import DSDCore
import Glibc
import Logging
import Synchronization

/// Which of the two FUSE sessions a bridge serves.
enum SessionRole: Sendable {
    /// The mountpoint: tables, find, part, status, and `events` as an empty directory.
    /// No-open: the kernel sends no OPEN/RELEASE for regular files (FUSE-FACTS).
    case main
    /// Mounted over `<mountpoint>/events`: the stream files, with open support.
    case events
}

/// The live filesystem of one session: kernel requests in (handlers in `FuseBridge+*.swift`),
/// replica events in (`Notifier`). Holds no decisions beyond mapping nodes to backend calls.
///
/// `@unchecked Sendable`: all mutable state is inside the `state` and `streams` mutexes; `se`
/// and `notifier` are written before the loop starts (and `se` cleared after it ended), read-only
/// in between; `reflectorTID` is atomic.
final class FuseBridge: @unchecked Sendable {
    let backend: any FilesystemBackend
    let settings: FuseSettings
    let logger: Logger
    let role: SessionRole
    let state: Mutex<BridgeState>
    let streams = Mutex(StreamTable())
    let reflectorTID = Atomic<Int32>(0)
    /// Set when the FUSE loop has ended: the mountpoint may then be the bare directory, which
    /// the reflector must never write into.
    let loopEnded = Atomic<Bool>(false)
    let mountTime = WallClock.now()
    var se: OpaquePointer?
    var notifier: Notifier?

    init(backend: any FilesystemBackend, settings: FuseSettings, logger: Logger, role: SessionRole) {
        self.backend = backend
        self.settings = settings
        self.logger = logger
        self.role = role
        state = Mutex(BridgeState(tree: FileTree(root: role == .events ? .eventsDir : .root)))
    }

    static func from(_ req: fuse_req_t?) -> FuseBridge {
        Unmanaged<FuseBridge>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
    }

    func isReflector(_ req: fuse_req_t) -> Bool {
        let pid = fuse_req_ctx(req).pointee.pid
        return pid != 0 && pid == reflectorTID.load(ordering: .acquiring)
    }

    // MARK: attributes

    func stat(ino: UInt64, mode: mode_t, size: Int, mtime: timespec) -> Glibc.stat {
        var st = Glibc.stat()
        st.st_ino = ino_t(ino)
        st.st_mode = mode
        st.st_nlink = (mode & S_IFMT) == S_IFDIR ? 2 : 1
        st.st_uid = settings.ownerUID
        st.st_gid = settings.writerGroup
        st.st_size = off_t(size)
        st.st_blksize = 4096
        st.st_blocks = (off_t(size) + 511) / 512
        st.st_mtim = mtime
        st.st_ctim = mtime
        st.st_atim = mtime
        return st
    }

    /// Attributes of a node as the requester sees it, or the errno of its absence. For a
    /// regular file of the main session the bytes it shows are recorded under `ino` (reads
    /// serve them; see `BridgeState.shown`).
    /// `reflector`: the reflector sees pending creations as absent and pending deletions as present.
    func attributes(of kind: NodeKind, ino: UInt64, reflector: Bool) -> Result<Glibc.stat, Errno> {
        describe(kind, ino: ino, reflector: reflector).map { st, bytes in
            if let bytes, ino != 0 { state.withLock { $0.shown[ino] = bytes } }
            return st
        }
    }

    /// Attributes of a node and, for a regular file, the bytes it shows now.
    func describe(_ kind: NodeKind, ino: UInt64, reflector: Bool) -> Result<(Glibc.stat, [UInt8]?), Errno> {
        switch kind {
        case .root, .findDir, .partDir, .eventsDir:
            return .success((stat(ino: ino, mode: S_IFDIR | 0o755, size: 0, mtime: mountTime), nil))
        case .tablesDir:
            return .success((stat(ino: ino, mode: S_IFDIR | 0o775, size: 0, mtime: mountTime), nil))
        case .status:
            let text = Array((backend.statusText() + "\n").utf8)
            let mtime = state.withLock { $0.statusMtime(text, now: WallClock.now()) }
            return .success((stat(ino: ino, mode: S_IFREG | 0o444, size: text.count, mtime: mtime), text))
        case .table(let table):
            let path = PathKey(table: table, key: nil)
            switch reflector ? state.withLock({ $0.reflecting[path] }) : nil {
            case .creating?: return .failure(Errno(ENOENT))
            case .present?: break
            case nil: guard backend.tableExists(table) else { return .failure(Errno(ENOENT)) }
            }
            return .success((stat(ino: ino, mode: S_IFDIR | 0o775, size: 0, mtime: mountTime), nil))
        case .partTable(let table), .eventsTable(let table):
            guard backend.tableExists(table) else { return .failure(Errno(ENOENT)) }
            return .success((stat(ino: ino, mode: S_IFDIR | 0o755, size: 0, mtime: mountTime), nil))
        case .entry(let table, let key):
            let path = PathKey(table: table, key: key)
            let (reflection, provisional, mtime) = state.withLock {
                ($0.reflecting[path], $0.provisional.contains(path), $0.mtimes[path] ?? $0.bulkMtimes[table])
            }
            let time = mtime ?? mountTime
            switch reflector ? reflection : nil {
            case .creating?:
                return .failure(Errno(ENOENT))
            case .present(let size)?:
                return .success((stat(ino: ino, mode: S_IFREG | 0o664, size: size, mtime: time), nil))
            case nil:
                break
            }
            if let entry = backend.entry(table: table, key: key) {
                // What the kernel was shown stays until the notifier or a write replaces it.
                let bytes = (ino != 0 ? state.withLock { $0.shown[ino] } : nil) ?? EntryLine.content(of: entry)
                return .success((stat(ino: ino, mode: S_IFREG | 0o664, size: bytes.count, mtime: time), bytes))
            }
            if provisional {
                return .success((stat(ino: ino, mode: S_IFREG | 0o664, size: 0, mtime: time), []))
            }
            return .failure(Errno(ENOENT))
        case .find, .part:
            switch resolve(kind) {
            case .success(let text):
                return .success((stat(ino: ino, mode: S_IFREG | 0o444, size: text.count, mtime: mountTime), text))
            case .failure(let failure):
                return .failure(Errno(FuseErrno.of(failure)))
            }
        case .events:
            return .success((stat(ino: ino, mode: S_IFREG | 0o444, size: 0, mtime: mountTime), nil))
        }
    }

    /// The text of a `find` or `part` file.
    func resolve(_ kind: NodeKind) -> Result<[UInt8], ResolveFailure> {
        let answer: Result<String, ResolveFailure>
        switch kind {
        case .find(let instance): answer = backend.find(instance)
        case .part(let table, let number): answer = backend.partition(table: table, number: number)
        default: return .failure(.notFound)
        }
        return answer.map { Array(($0 + "\n").utf8) }
    }

    /// Attribute timeout: `status` changes without events, everything else is invalidated.
    func attrTimeout(_ kind: NodeKind) -> Double {
        kind == .status ? 0 : settings.cacheTimeout
    }

    // MARK: notifications (notifier thread only)

    /// Drops the kernel's attributes and pages of a file. The shown bytes go first: a read
    /// that misses the page cache from now on serves the current text, and a page filled
    /// before is still in the cache when the kernel drops it.
    func invalidateInode(_ ino: UInt64) {
        state.withLock { _ = $0.shown.removeValue(forKey: ino) }
        guard let se else { return }
        report(fuse_lowlevel_notify_inval_inode(se, ino, 0, 0), "inval_inode \(ino)")
    }

    /// Marks only the attributes of a file stale (offset -1: no page is touched). Safe from a
    /// write handler: it takes no lock the running write holds, unlike a page invalidation.
    func invalidateAttributes(_ ino: UInt64) {
        guard let se else { return }
        report(fuse_lowlevel_notify_inval_inode(se, ino, -1, 0), "inval_attr \(ino)")
    }

    func invalidateEntry(parent: UInt64, name: String) {
        guard let se else { return }
        let rc = name.withCString { fuse_lowlevel_notify_inval_entry(se, parent, $0, name.utf8.count) }
        report(rc, "inval_entry \(parent)/\(name)")
    }

    private func report(_ rc: Int32, _ what: @autoclosure () -> String) {
        // -ENOENT: the kernel does not cache it (success); -EBADF: already unmounted.
        if rc == 0 || rc == -ENOENT || rc == -EBADF { return }
        logger.debug("notify failed", metadata: ["fuse.notify": "\(what())", "errno": "\(-rc)"])
    }
}

/// An errno value as a typed failure.
struct Errno: Error, Equatable {
    var code: Int32
    init(_ code: Int32) { self.code = code }
}
