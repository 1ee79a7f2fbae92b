import CFuse
import CFuseShim
import DSDPosix
import Glibc
import Logging

/// One mounted libfuse session with its loop thread. `FuseMount` runs two: the main one at
/// the mountpoint and the events one mounted over `<mountpoint>/events`.
struct FuseSession: Sendable {
    let bridge: FuseBridge
    let mountpoint: String
    let loopThread: PosixThread
    /// The FUSE connection number (/sys/fs/fuse/connections/<N>), 0 if unknown.
    let connection: UInt64

    /// Creates the session, mounts it, starts its loop and waits for the kernel's INIT (a stat
    /// of the mountpoint waits for the loop to answer it). Leaves nothing mounted on failure.
    /// `loopEnded` runs on the loop thread when the loop returns (unmounted, from here or outside).
    static func mount(
        _ bridge: FuseBridge, at mountpoint: String, loopEnded: @escaping @Sendable () -> Void
    ) throws(FuseMountError) -> FuseSession {
        let settings = bridge.settings
        let name = bridge.role == .events ? settings.fsName + "-events" : settings.fsName
        let options = "allow_other,default_permissions,fsname=\(name),subtype=\(settings.subtype)"
        let argv = ["dsd", "-o", options]
        var ops = FuseOps.make(bridge.role)
        let userdata = Unmanaged.passUnretained(bridge).toOpaque()
        let se: OpaquePointer? = withArrayOfCStrings(argv) { cargs in
            cfuse_session_new(Int32(argv.count), cargs, &ops, userdata)
        }
        guard let se else { throw .sessionRejected }
        guard fuse_session_mount(se, mountpoint) == 0 else {
            fuse_session_destroy(se)
            throw .mountFailed(mountpoint)
        }
        bridge.se = se
        let session = SessionPointer(se)
        guard
            let loopThread = PosixThread({ [bridge] in
                _ = cfuse_session_loop_mt(session.pointer, settings.maxThreads, settings.maxIdleThreads)
                bridge.loopEnded.store(true, ordering: .releasing)
                loopEnded()
            })
        else {
            fuse_session_unmount(se)
            fuse_session_destroy(se)
            bridge.se = nil
            throw .threadFailed
        }
        var st = Glibc.stat()
        let connection: UInt64 = Glibc.lstat(mountpoint, &st) == 0 ? FuseMount.minor(st.st_dev) : 0
        return FuseSession(bridge: bridge, mountpoint: mountpoint, loopThread: loopThread, connection: connection)
    }

    /// Unmounts and waits for the loop; aborts the connection if open files keep a lazily
    /// detached mount alive beyond `wait`. Returns whether it had to abort.
    @discardableResult
    func unmount(wait: Duration) -> Bool {
        guard let se = bridge.se else { return false }
        fuse_session_exit(se)
        fuse_session_unmount(se)
        var aborted = false
        if !waitForLoop(wait), connection != 0 {
            FuseMount.abortConnection(connection)
            aborted = true
        }
        loopThread.join()
        fuse_session_destroy(se)
        bridge.se = nil
        return aborted
    }

    private func waitForLoop(_ limit: Duration) -> Bool {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while !bridge.loopEnded.load(ordering: .acquiring) {
            if ContinuousClock.now >= deadline { return false }
            usleep(2_000)
        }
        return true
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
