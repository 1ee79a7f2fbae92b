import CFuse
import CFuseShim
import DSDCore
import DSDPosix
import Glibc
import Synchronization

/// The notifier/reflector thread. It turns replica events into tree changes (`ReplicaMirror`),
/// invalidates the kernel's caches, replays remote changes as real syscalls on the mount so
/// inotify watchers see them, and feeds the `events` streams. It is never a FUSE handler and
/// never holds a lock a handler needs while it notifies or performs a syscall.
final class Notifier: Sendable {
    enum Job: Sendable {
        case events([ReplicaEvent])
        case invalidate(PathKey)
        /// Signalled once every job queued before it is done (tests).
        case barrier(PosixSemaphore)
        case stop
    }

    private let jobs = Mutex<[Job]>([])
    /// Set by `requestStop`: the thread ends between two changes, not after a long batch.
    private let stopRequested = Atomic<Bool>(false)
    private let wakeup = PosixSemaphore()
    private let mirror: Mutex<ReplicaMirror>
    /// Per `find`/`part` inode, the answer it had when last invalidated: a batch of changes
    /// that leaves the answer as it was invalidates nothing (an invalidation crossing a read
    /// is the one way such a read can come back torn). Notifier thread only.
    private let resolvedAnswers = Mutex<[UInt64: (kind: NodeKind, answer: Result<[UInt8], ResolveFailure>)]>([:])
    private unowned let bridge: FuseBridge
    /// The events session's bridge, whose streams the notifier feeds.
    private unowned let events: FuseBridge

    init(bridge: FuseBridge, events: FuseBridge, mirror: ReplicaMirror) {
        self.bridge = bridge
        self.events = events
        self.mirror = Mutex(mirror)
    }

    func enqueue(_ job: Job) {
        jobs.withLock { $0.append(job) }
        wakeup.signal()
    }

    /// Ends the thread as soon as the change it is replaying is done.
    func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        enqueue(.stop)
    }

    /// The thread body; returns after `.stop`.
    func run() {
        bridge.reflectorTID.store(cfuse_gettid(), ordering: .releasing)
        while true {
            wakeup.wait()
            let batch = jobs.withLock { queue in
                defer { queue.removeAll() }
                return queue
            }
            var changed = false
            for job in batch {
                switch job {
                case .stop:
                    return
                case .invalidate(let path):
                    invalidate(path)
                case .barrier(let done):
                    if changed { invalidateResolved() }
                    changed = false
                    done.signal()
                case .events(let events):
                    let changes = mirror.withLock { mirror in
                        // After a reset the mirror holds the replica as it is now: the events
                        // that follow it in the same report describe what it already holds.
                        let applied = events.firstIndex(of: .reset).map { events[...$0] } ?? events[...]
                        return applied.flatMap { mirror.apply($0, snapshot: snapshot) }
                    }
                    if changes.count > bridge.settings.bulkThreshold {
                        applyInBulk(changes)
                    } else {
                        for change in changes {
                            if stopRequested.load(ordering: .acquiring) { return }
                            apply(change)
                        }
                    }
                    changed = changed || !changes.isEmpty
                }
            }
            if changed { invalidateResolved() }
            let limit = ContinuousClock.now.advanced(by: .zero - bridge.settings.localEchoGrace)
            bridge.state.withLock { $0.purgeEchoes(olderThan: limit) }
        }
    }

    private func snapshot() -> [String: [Entry]] {
        var tables: [String: [Entry]] = [:]
        for name in bridge.backend.tableNames() {
            tables[name] = bridge.backend.entries(table: name) ?? []
        }
        return tables
    }

    private func path(_ kind: NodeKind) -> String {
        bridge.settings.mountpoint + "/" + kind.relativePath
    }

    /// Reflection only while our mount serves the mountpoint, never into the bare directory.
    private var mounted: Bool { !bridge.loopEnded.load(ordering: .acquiring) }

    private func apply(_ change: TreeChange) {
        switch change {
        case .entryCreated(let table, let entry):
            put(table: table, entry: entry, old: nil)
        case .entryModified(let table, let old, let new):
            put(table: table, entry: new, old: old)
        case .entryDeleted(let table, let entry):
            deleteEntry(table: table, entry: entry)
            publish(table: table, key: entry.key, line: EventLine.delete(entry.key))
        case .tableCreated(let table):
            let key = PathKey(table: table, key: nil)
            if bridge.state.withLock({ $0.matchEcho(key, .tableCreate) }) == .none {
                bridge.state.withLock { $0.reflecting[key] = .creating(size: 0) }
                bridge.invalidateEntry(parent: FileTree.fixed[.tablesDir]!, name: table)
                if mounted { _ = Glibc.mkdir(path(.table(table)), 0o775) }
                bridge.state.withLock { _ = $0.reflecting.removeValue(forKey: key) }
            }
        case .tableDropped(let table, let keys):
            bridge.state.withLock { _ = $0.bulkMtimes.removeValue(forKey: table) }
            for key in keys {
                bridge.state.withLock { _ = $0.mtimes.removeValue(forKey: PathKey(table: table, key: key)) }
                publish(table: table, key: key, line: EventLine.delete(key))
            }
            let key = PathKey(table: table, key: nil)
            if bridge.state.withLock({ $0.matchEcho(key, .tableDrop) }) == .none {
                bridge.state.withLock { $0.reflecting[key] = .present(size: 0) }
                if mounted { _ = Glibc.rmdir(path(.table(table))) }
                bridge.state.withLock { _ = $0.reflecting.removeValue(forKey: key) }
            }
            bridge.invalidateEntry(parent: FileTree.fixed[.tablesDir]!, name: table)
        }
    }

    /// Many changes at once (a join's snapshot, a batch): instead of a syscall per change, each
    /// affected table's names are forgotten at once (its dentry with every name under it), so
    /// every lookup is answered from the new replica right away; entries the kernel holds are
    /// invalidated; `events` readers get `RESCAN`; and an inotify watch on the table directory
    /// gets one IN_ATTRIB of the directory itself, meaning "rescan" (Docs/filesystem.md).
    private func applyInBulk(_ changes: [TreeChange]) {
        var tables: [String] = []
        var seen: Set<String> = []
        func affected(_ table: String) {
            if seen.insert(table).inserted { tables.append(table) }
        }
        let now = WallClock.now()
        for change in changes {
            switch change {
            case .tableCreated, .tableDropped:
                if stopRequested.load(ordering: .acquiring) { return }
                apply(change)
            case .entryCreated(let table, let entry), .entryModified(let table, _, let entry):
                affected(table)
                let key = PathKey(table: table, key: entry.key)
                let ino = bridge.state.withLock { s -> UInt64? in
                    s.mtimes.removeValue(forKey: key)  // the table's bulk mtime applies
                    _ = s.matchEcho(key, .put(value: entry.value, valid: entry.valid))
                    return s.tree.ino(of: .entry(table: table, key: entry.key))
                }
                // Only an entry the kernel knows has anything cached: it is shown the
                // replica's current line, with its pages and attributes dropped.
                if let ino {
                    let content = EntryLine.content(of: bridge.backend.entry(table: table, key: entry.key) ?? entry)
                    bridge.state.withLock { $0.shown[ino] = content }
                    bridge.invalidateInode(ino)
                }
            case .entryDeleted(let table, let entry):
                affected(table)
                bridge.state.withLock { s in
                    let key = PathKey(table: table, key: entry.key)
                    s.mtimes.removeValue(forKey: key)
                    _ = s.matchEcho(key, .delete)
                }
            }
        }
        bridge.state.withLock { s in
            for table in tables { s.bulkMtimes[table] = now }
        }
        for table in tables {
            if stopRequested.load(ordering: .acquiring) { return }
            let tableIno = bridge.state.withLock { $0.tree.ino(of: .table(table)) }
            bridge.invalidateEntry(parent: FileTree.fixed[.tablesDir]!, name: table)
            if let tableIno { bridge.invalidateInode(tableIno) }
            events.streams.withLock { $0.rescan(table: table) }
            if mounted { _ = utimensat(AT_FDCWD, path(.table(table)), nil, 0) }
        }
    }

    /// Reflection of a put: a new key is created with open(O_CREAT) (IN_CREATE, IN_MODIFY,
    /// IN_CLOSE_WRITE); a changed entry is rewritten with open(O_TRUNC) + write (IN_MODIFY,
    /// IN_CLOSE_WRITE); a change of validity also gets utimensat (IN_ATTRIB).
    private func put(table: String, entry: Entry, old: Entry?) {
        let key = PathKey(table: table, key: entry.key)
        let kind = NodeKind.entry(table: table, key: entry.key)
        let echo = bridge.state.withLock { s in
            s.mtimes[key] = WallClock.now()
            return s.matchEcho(key, .put(value: entry.value, valid: entry.valid))
        }
        // The kernel is shown the replica's current line (never older than this event), and
        // only attributes are invalidated: the reflected write puts the same bytes in the page
        // cache under the inode lock, so size and pages change together.
        let current = bridge.backend.entry(table: table, key: entry.key)
        let content = EntryLine.content(of: current ?? entry)
        let (ino, changed) = bridge.state.withLock { s -> (UInt64?, Bool) in
            guard let ino = s.tree.ino(of: kind) else { return (nil, false) }
            defer { s.shown[ino] = content }
            return (ino, s.shown[ino] != content)
        }
        switch echo {
        case .replied, .pending:
            // Written through the mount: the write handler already showed this line and marked
            // the attributes stale. Invalidating again would race the reader's GETATTR (the
            // kernel discards a reply that crosses an invalidation and reads on with the size
            // it had); only a remote change shown in between needs it.
            if let ino, changed { bridge.invalidateAttributes(ino) }
        case .none:
            let reflected: Bool
            if old == nil {
                let tableIno = bridge.state.withLock { s in
                    s.reflecting[key] = .creating(size: content.count)
                    return s.tree.ino(of: .table(table))
                }
                if let tableIno { bridge.invalidateEntry(parent: tableIno, name: entry.key) }
                reflected = writeFile(path(kind), content, flags: O_CREAT)
            } else {
                bridge.state.withLock { $0.reflecting[key] = .present(size: content.count) }
                reflected = writeFile(path(kind), content, flags: 0)
                if old!.valid != entry.valid, mounted { _ = utimensat(AT_FDCWD, path(kind), nil, 0) }
            }
            bridge.state.withLock { _ = $0.reflecting.removeValue(forKey: key) }
            if reflected, let ino {
                bridge.invalidateAttributes(ino)
            } else {
                invalidate(key)
            }
        }
        publish(table: table, key: entry.key, line: EventLine.add(entry))
    }

    private func deleteEntry(table: String, entry: Entry) {
        let key = PathKey(table: table, key: entry.key)
        let echo = bridge.state.withLock { s in
            s.mtimes[key] = nil
            return s.matchEcho(key, .delete)
        }
        guard echo == .none else { return }
        let tableIno = bridge.state.withLock { s in
            s.reflecting[key] = .present(size: EntryLine.content(of: entry).count)
            return s.tree.ino(of: .table(table))
        }
        if mounted { _ = Glibc.unlink(path(.entry(table: table, key: entry.key))) }
        bridge.state.withLock { _ = $0.reflecting.removeValue(forKey: key) }
        if let tableIno { bridge.invalidateEntry(parent: tableIno, name: entry.key) }
    }

    /// Replays a put; returns whether all of it reached the mount.
    private func writeFile(_ path: String, _ content: [UInt8], flags: Int32) -> Bool {
        guard mounted else { return false }
        let fd = Glibc.open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | flags, 0o664)
        guard fd >= 0 else { return false }
        let written = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        Glibc.close(fd)
        return written == content.count
    }

    /// Drops the kernel's cached data and attributes of an entry, or the name of a table.
    private func invalidate(_ key: PathKey) {
        let (ino, parentIno): (UInt64?, UInt64?) = bridge.state.withLock { s in
            if let entryKey = key.key {
                return (s.tree.ino(of: .entry(table: key.table, key: entryKey)), nil)
            }
            return (nil, s.tree.ino(of: .tablesDir))
        }
        if let ino { bridge.invalidateInode(ino) }
        if let parentIno { bridge.invalidateEntry(parent: parentIno, name: key.table) }
    }

    /// `find` and `part` answers may change with any table: forget every one whose answer is
    /// not what it was at its last invalidation.
    private func invalidateResolved() {
        let nodes = bridge.state.withLock { s in
            s.tree.resolvedNodes().compactMap { ino, kind -> (UInt64, NodeKind, UInt64, String)? in
                guard let (parent, name) = kind.parent, let parentIno = s.tree.ino(of: parent) else { return nil }
                return (ino, kind, parentIno, name)
            }
        }
        let known = Set(nodes.map(\.0))
        for (ino, kind, parentIno, name) in nodes {
            let answer = bridge.resolve(kind)
            let unchanged = resolvedAnswers.withLock { answers in
                defer { answers[ino] = (kind, answer) }
                guard let last = answers[ino] else { return false }
                return last.kind == kind && last.answer == answer
            }
            if unchanged { continue }
            bridge.invalidateInode(ino)
            bridge.invalidateEntry(parent: parentIno, name: name)
        }
        resolvedAnswers.withLock { answers in answers = answers.filter { known.contains($0.key) } }
    }

    private func publish(table: String, key: String, line: [UInt8]) {
        events.streams.withLock { $0.publish(table: table, key: key, line: line) }
    }
}
