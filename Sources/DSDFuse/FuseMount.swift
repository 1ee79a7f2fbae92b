// DSDFuse — the `/dsd` filesystem on the libfuse3 low-level API.
//
// Algorithm in brief (details and measurements: Docs/filesystem.md):
//
// - Pure model: `NodeKind` maps paths to node kinds by syntax, `FileTree` gives the nodes the
//   kernel knows stable inode numbers with lookup counts (never reused, dropped on FORGET),
//   `EntryLine` parses writes, `EventQueue` bounds a subscription (overflow → `RESCAN`),
//   `ReplicaMirror` turns replica events — and whole-snapshot resets — into exact
//   create/modify/delete changes. All of it is tested without mounting.
// - Bridge: C trampolines (`FuseOps`) recover the `FuseBridge` from the request's userdata and
//   answer through a `~Copyable` `Reply` (exactly one reply per request). Reads come from the
//   `FilesystemBackend` (the agent's replica); writes, unlinks, mkdir/rmdir block in the
//   handler until the backend has committed them.
// - Two sessions: the main one at the mountpoint is *no-open* (OPEN answers ENOSYS, so the
//   kernel sends no OPEN/FLUSH/RELEASE for regular files and a cached open+read+close costs
//   no request at all); `events` is a second session mounted over `<mountpoint>/events`,
//   with open support, because stream files need `direct_io` and per-open state.
// - Caching: long entry/attribute timeouts, page-cached reads. The kernel is shown one
//   version of a file at a time (`BridgeState.shown`): attribute replies and reads serve the
//   same bytes, so size and text never mix versions. Remote changes: the notifier updates
//   the shown bytes, replays the change as a real write on the mount (inode lock: size and
//   pages change together) and then invalidates attributes only; deletions and `find`/`part`
//   answers are invalidated precisely. Writes through the mount mark attributes stale
//   before replying, so the next read drops the written line for the committed one.
// - inotify for remote changes: the notifier thread replays each change that did not come
//   through this mount as a real syscall on the mount (open/write/close, unlink, mkdir, rmdir,
//   utimensat). Handlers recognise the notifier's thread id and acknowledge those requests
//   without calling the backend; changes made through the mount are recognised by their
//   echo and not replayed.
// - Streams: `events/<TABLE>/<PREFIX>` files are direct-io, non-seekable subscriptions;
//   blocking reads are parked and answered by the producer, poll and interrupts supported.

import CFuse
import CFuseShim
import DSDCore
import DSDPosix
import Glibc
import Logging
import Synchronization

/// Why the filesystem could not be mounted.
public enum FuseMountError: Error, Equatable {
    case deviceMissing
    case alreadyStarted
    case sessionRejected
    case mountFailed(String)
    case threadFailed
    /// A live dsd filesystem is already mounted there (another agent's).
    case alreadyMounted(String)
}

/// The `/dsd` mount: start it, report every replica change with `replicaChanged`, and
/// `unmount()` it (always cleanly, also with open files). Signals are the caller's business.
///
/// Two FUSE sessions: the main one at the mountpoint (no-open, page-cached reads of entries,
/// `find`, `part`, `status`) and the events one mounted over `<mountpoint>/events` (stream
/// files need open, `direct_io` and per-open state, which no-open rules out per connection).
/// Mounted main then events; unmounted events then main, on every path.
///
/// Threads: the libfuse multithreaded loop of each session on its own POSIX threads, and one
/// notifier thread (invalidation, inotify reflection, event streams). Nothing runs on Swift's
/// cooperative pool.
public final class FuseMount: Sendable {
    private struct Running: Sendable {
        var main: FuseSession
        var events: FuseSession
        var notifier: Notifier
        var notifierThread: PosixThread
    }

    private let backend: any FilesystemBackend
    public let settings: FuseSettings
    private let logger: Logger
    private let running = Mutex<Running?>(nil)
    /// Set once `unmount()` begins: a main loop that ends before that was unmounted from outside.
    private let stopping = Atomic(false)
    private let onExternalUnmount: @Sendable () -> Void

    /// `onExternalUnmount` is called (on the main session's loop thread) when the mount goes
    /// away without `unmount()`: `umount -R`, `fusermount3 -u -z`, an aborted connection. The
    /// owner then calls `unmount()` to release the rest and stops.
    public init(
        backend: any FilesystemBackend, settings: FuseSettings, logger: Logger,
        onExternalUnmount: @escaping @Sendable () -> Void = {}
    ) {
        self.backend = backend
        self.settings = settings
        self.logger = logger
        self.onExternalUnmount = onExternalUnmount
    }

    /// Where the events session is mounted.
    public var eventsMountpoint: String { settings.mountpoint + "/events" }

    /// Mounts both sessions and starts serving. Clears dead mounts (ENOTCONN) left by a
    /// crashed process, the events one first (it lies below the main one).
    public func start() throws(FuseMountError) {
        guard access("/dev/fuse", R_OK | W_OK) == 0 else { throw .deviceMissing }
        if running.withLock({ $0 != nil }) { throw .alreadyStarted }
        Self.clearDeadMount(eventsMountpoint)
        Self.clearDeadMount(settings.mountpoint)
        if Self.isLiveMount(settings.mountpoint, type: "fuse.\(settings.subtype)") {
            throw .alreadyMounted(settings.mountpoint)
        }

        let bridge = FuseBridge(backend: backend, settings: settings, logger: logger, role: .main)
        let streams = FuseBridge(backend: backend, settings: settings, logger: logger, role: .events)
        var snapshot: [String: [Entry]] = [:]
        for name in backend.tableNames() { snapshot[name] = backend.entries(table: name) ?? [] }
        let notifier = Notifier(bridge: bridge, events: streams, mirror: ReplicaMirror(snapshot: snapshot))
        bridge.notifier = notifier

        let main = try FuseSession.mount(bridge, at: settings.mountpoint) { [weak self] in self?.mainLoopEnded() }
        let events: FuseSession
        do throws(FuseMountError) {
            events = try FuseSession.mount(streams, at: eventsMountpoint) {}
        } catch {
            main.unmount(wait: settings.unmountWait)
            Self.clearDeadMount(settings.mountpoint)
            throw error
        }
        guard let notifierThread = PosixThread({ notifier.run() }) else {
            events.unmount(wait: settings.unmountWait)
            main.unmount(wait: settings.unmountWait)
            throw .threadFailed
        }
        running.withLock {
            $0 = Running(main: main, events: events, notifier: notifier, notifierThread: notifierThread)
        }
        logger.info("mounted", metadata: ["fuse.mountpoint": "\(settings.mountpoint)"])
    }

    /// Reports changes already applied to the replica. Cheap and non-blocking: the notifier
    /// thread does the work.
    public func replicaChanged(_ events: [ReplicaEvent]) {
        guard !events.isEmpty, let notifier = running.withLock({ $0?.notifier }) else { return }
        notifier.enqueue(.events(events))
    }

    /// Waits until the notifier has handled every change reported so far (tests).
    func waitUntilIdleForTesting() {
        guard let notifier = running.withLock({ $0?.notifier }) else { return }
        let done = PosixSemaphore()
        notifier.enqueue(.barrier(done))
        done.wait()
    }

    /// Number of open `events` subscriptions.
    public var openStreamCount: Int {
        running.withLock { $0?.events.bridge }?.streams.withLock { $0.streams.count } ?? 0
    }

    /// The FUSE connection numbers of the running sessions (tests abort them to simulate a crash).
    var connectionForTesting: UInt64? { running.withLock { $0?.main.connection } }
    var eventsConnectionForTesting: UInt64? { running.withLock { $0?.events.connection } }

    /// Ends all streams, stops the notifier, unmounts the events session, then the main one,
    /// waiting for each loop; aborts a connection if open files keep a lazily detached mount
    /// alive.
    public func unmount() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        guard
            let run = running.withLock({ state -> Running? in
                defer { state = nil }
                return state
            })
        else { return }
        run.events.bridge.streams.withLock { $0.closeAll() }
        run.notifier.requestStop()
        run.notifierThread.join()
        for session in [run.events, run.main] where session.unmount(wait: settings.unmountWait) {
            logger.warning("aborted FUSE connection", metadata: ["fuse.mountpoint": "\(session.mountpoint)"])
        }
        Self.clearDeadMount(eventsMountpoint)
        Self.clearDeadMount(settings.mountpoint)
        logger.info("unmounted", metadata: ["fuse.mountpoint": "\(settings.mountpoint)"])
    }

    private func mainLoopEnded() {
        guard !stopping.load(ordering: .sequentiallyConsistent) else { return }
        logger.notice(
            "the mount went away (unmounted from outside)", metadata: ["fuse.mountpoint": "\(settings.mountpoint)"])
        onExternalUnmount()
    }

    /// True if `/proc/self/mountinfo` lists a mount of `type` (e.g. `fuse.dsd`) at `path`
    /// whose daemon still answers.
    static func isLiveMount(_ path: String, type: String) -> Bool {
        guard let resolved = realpath(path, nil) else { return false }
        let target = String(cString: resolved)
        free(resolved)
        guard let info = try? Streams.readFile("/proc/self/mountinfo") else { return false }
        for line in String(decoding: info, as: UTF8.self).split(separator: "\n") {
            // id parent dev root MOUNTPOINT options [optional…] - FSTYPE source superoptions
            let fields = line.split(separator: " ")
            guard fields.count > 5, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            if unescapeMountinfo(fields[4]) == target && fields[dash + 1] == type { return !isDeadMount(path) }
        }
        return false
    }

    /// A mountinfo field with its octal escapes (`\040` for a space) decoded.
    static func unescapeMountinfo(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var index = 0
        while index < raw.count {
            if raw[index] == 0x5C, index + 3 < raw.count,
                raw[index + 1...index + 3].allSatisfy({ (0x30...0x37).contains($0) })
            {
                bytes.append(raw[index + 1...index + 3].reduce(0) { $0 << 3 | ($1 - 0x30) })
                index += 4
            } else {
                bytes.append(raw[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A mountpoint whose FUSE daemon died answers ENOTCONN; detach it. statfs always reaches
    /// the (dead) connection, where stat may be answered from cached attributes.
    /// Aborts a FUSE connection through fusectl (mounting it for the moment if needed), which
    /// ends every request and lets a lazily detached mount go away.
    static func abortConnection(_ connection: UInt64) {
        let connections = "/sys/fs/fuse/connections"
        var mountedHere = false
        if access(connections + "/\(connection)", F_OK) != 0 {
            mountedHere = Glibc.mount("fusectl", connections, "fusectl", 0, nil) == 0
        }
        let fd = Glibc.open(connections + "/\(connection)/abort", O_WRONLY)
        if fd >= 0 {
            _ = Glibc.write(fd, "1", 1)
            Glibc.close(fd)
        }
        if mountedHere { _ = umount(connections) }
    }

    static func clearDeadMount(_ mountpoint: String) {
        if isDeadMount(mountpoint) { _ = umount2(mountpoint, Int32(MNT_DETACH)) }
    }

    static func isDeadMount(_ mountpoint: String) -> Bool {
        var st = Glibc.stat()
        if Glibc.lstat(mountpoint, &st) != 0 && errno == ENOTCONN { return true }
        return cfuse_statfs_errno(mountpoint) == ENOTCONN
    }

    /// The minor number of a device id (glibc's `gnu_dev_minor`), naming the connection in
    /// /sys/fs/fuse/connections.
    static func minor(_ dev: dev_t) -> UInt64 {
        let dev = UInt64(dev)
        return ((dev >> 12) & 0xffff_ff00) | (dev & 0xff)
    }
}
