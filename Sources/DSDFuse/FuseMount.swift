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

    public init(backend: any FilesystemBackend, settings: FuseSettings, logger: Logger) {
        self.backend = backend
        self.settings = settings
        self.logger = logger
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

        let bridge = FuseBridge(backend: backend, settings: settings, logger: logger, role: .main)
        let streams = FuseBridge(backend: backend, settings: settings, logger: logger, role: .events)
        var snapshot: [String: [Entry]] = [:]
        for name in backend.tableNames() { snapshot[name] = backend.entries(table: name) ?? [] }
        let notifier = Notifier(bridge: bridge, events: streams, mirror: ReplicaMirror(snapshot: snapshot))
        bridge.notifier = notifier

        let main = try FuseSession.mount(bridge, at: settings.mountpoint)
        let events: FuseSession
        do throws(FuseMountError) {
            events = try FuseSession.mount(streams, at: eventsMountpoint)
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
        guard
            let run = running.withLock({ state -> Running? in
                defer { state = nil }
                return state
            })
        else { return }
        run.events.bridge.streams.withLock { $0.closeAll() }
        run.notifier.enqueue(.stop)
        run.notifierThread.join()
        for session in [run.events, run.main] where session.unmount(wait: settings.unmountWait) {
            logger.warning("aborted FUSE connection", metadata: ["fuse.mountpoint": "\(session.mountpoint)"])
        }
        Self.clearDeadMount(eventsMountpoint)
        Self.clearDeadMount(settings.mountpoint)
        logger.info("unmounted", metadata: ["fuse.mountpoint": "\(settings.mountpoint)"])
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
