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
// - Caching: long entry/attribute timeouts and `keep_cache`; every change is invalidated
//   precisely by the notifier thread, never from a handler, never under a lock a handler needs.
// - inotify for remote changes: the notifier thread replays each change that did not come
//   through this mount as a real syscall on the mount (open/write/close, unlink, mkdir, rmdir,
//   utimensat). Handlers recognise the notifier's thread id and acknowledge those requests
//   without calling the backend; changes made through the mount are recognised by their
//   echo and only invalidated.
// - Streams: `events/<TABLE>/<PREFIX>` files are direct-io, non-seekable subscriptions;
//   blocking reads are parked and answered by the producer, poll and interrupts supported.

import CFuse
import CFuseShim
import DSDCore
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
/// Threads: the libfuse multithreaded loop on its own POSIX threads, and one notifier thread
/// (invalidation, inotify reflection, event streams). Nothing runs on Swift's cooperative pool.
public final class FuseMount: Sendable {
    private struct Running: Sendable {
        var bridge: FuseBridge
        var notifier: Notifier
        var loopThread: PosixThread
        var notifierThread: PosixThread
        var connection: UInt64
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

    /// Mounts and starts serving. Clears a dead mount (ENOTCONN) left by a crashed process.
    public func start() throws(FuseMountError) {
        guard access("/dev/fuse", R_OK | W_OK) == 0 else { throw .deviceMissing }
        if running.withLock({ $0 != nil }) { throw .alreadyStarted }
        Self.clearDeadMount(settings.mountpoint)

        let bridge = FuseBridge(backend: backend, settings: settings, logger: logger)
        var snapshot: [String: [Entry]] = [:]
        for name in backend.tableNames() { snapshot[name] = backend.entries(table: name) ?? [] }
        let notifier = Notifier(bridge: bridge, mirror: ReplicaMirror(snapshot: snapshot))
        bridge.notifier = notifier

        let options = "allow_other,default_permissions,fsname=\(settings.fsName),subtype=\(settings.subtype)"
        let argv = ["dsd", "-o", options]
        var ops = FuseOps.make()
        let userdata = Unmanaged.passUnretained(bridge).toOpaque()
        let se: OpaquePointer? = withArrayOfCStrings(argv) { cargs in
            cfuse_session_new(Int32(argv.count), cargs, &ops, userdata)
        }
        guard let se else { throw .sessionRejected }
        guard fuse_session_mount(se, settings.mountpoint) == 0 else {
            fuse_session_destroy(se)
            throw .mountFailed(settings.mountpoint)
        }
        bridge.se = se

        let session = SessionPointer(se)
        let settings = self.settings
        guard
            let loopThread = PosixThread({ [bridge] in
                _ = cfuse_session_loop_mt(session.pointer, settings.maxThreads, settings.maxIdleThreads)
                bridge.loopEnded.store(true, ordering: .releasing)
            })
        else {
            fuse_session_unmount(se)
            fuse_session_destroy(se)
            throw .threadFailed
        }
        guard let notifierThread = PosixThread({ notifier.run() }) else {
            fuse_session_exit(se)
            fuse_session_unmount(se)
            loopThread.join()
            fuse_session_destroy(se)
            throw .threadFailed
        }
        // Only now: a stat of the mountpoint waits for the loop to answer the kernel's INIT.
        var st = Glibc.stat()
        let connection: UInt64 = Glibc.lstat(settings.mountpoint, &st) == 0 ? Self.minor(st.st_dev) : 0
        running.withLock {
            $0 = Running(
                bridge: bridge, notifier: notifier, loopThread: loopThread, notifierThread: notifierThread,
                connection: connection)
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
        let done = Semaphore()
        notifier.enqueue(.barrier(done))
        done.wait()
    }

    /// Number of open `events` subscriptions (tests).
    var openStreamCountForTesting: Int {
        running.withLock { $0?.bridge }?.streams.withLock { $0.streams.count } ?? 0
    }

    /// The FUSE connection number of the running mount (tests abort it to simulate a crash).
    var connectionForTesting: UInt64? { running.withLock { $0?.connection } }

    /// Ends all streams, stops the notifier, unmounts and waits for the loop; aborts the
    /// connection if open files keep a lazily detached mount alive.
    public func unmount() {
        guard
            let run = running.withLock({ state -> Running? in
                defer { state = nil }
                return state
            })
        else { return }
        guard let se = run.bridge.se else { return }
        run.bridge.streams.withLock { $0.closeAll() }
        run.notifier.enqueue(.stop)
        run.notifierThread.join()
        fuse_session_exit(se)
        fuse_session_unmount(se)
        if !waitForLoop(run.bridge, settings.unmountWait), run.connection != 0 {
            Self.abortConnection(run.connection)
            logger.warning("aborted FUSE connection", metadata: ["fuse.mountpoint": "\(settings.mountpoint)"])
        }
        run.loopThread.join()
        fuse_session_destroy(se)
        run.bridge.se = nil
        Self.clearDeadMount(settings.mountpoint)
        logger.info("unmounted", metadata: ["fuse.mountpoint": "\(settings.mountpoint)"])
    }

    private func waitForLoop(_ bridge: FuseBridge, _ limit: Duration) -> Bool {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while !bridge.loopEnded.load(ordering: .acquiring) {
            if ContinuousClock.now >= deadline { return false }
            usleep(2_000)
        }
        return true
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

/// The session pointer handed to the loop thread; libfuse's session is thread-safe for the
/// loop and notify calls.
private struct SessionPointer: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

private func withArrayOfCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { $0.map { UnsafePointer<CChar>($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
