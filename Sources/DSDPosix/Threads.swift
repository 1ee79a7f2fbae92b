/// DSDPosix: the few operating-system helpers the drivers share without Foundation — POSIX
/// threads, a semaphore, whole-buffer writes to a descriptor, path arithmetic. Linking
/// Foundation would map its runtime and ICU's data into every agent; these are all dsd needs.
import Glibc

/// A plain POSIX thread, so that FUSE handlers, the notifier and blocking file writes never
/// run on Swift's cooperative pool or on an event loop (they block on syscalls).
public struct PosixThread: Sendable {
    private let handle: pthread_t

    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Starts a thread running `run`; nil when none could be created (the body has not run).
    public init?(_ run: @escaping @Sendable () -> Void) {
        guard let thread = try? Self.start(run) else { return nil }
        self = thread
    }

    /// Starts a thread running `run`, or says why `pthread_create` failed.
    public static func start(_ run: @escaping @Sendable () -> Void) throws(PosixError) -> PosixThread {
        let body = Unmanaged.passRetained(Body(run)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, body)
        if rc != 0 {
            Unmanaged<Body>.fromOpaque(body).release()
            throw PosixError(operation: "pthread_create", errno: rc)
        }
        return PosixThread(handle: thread)
    }

    private init(handle: pthread_t) {
        self.handle = handle
    }

    public func join() {
        pthread_join(handle, nil)
    }

    /// Runs `body` on a new thread nobody joins. Returns false when no thread could be created
    /// (the body has not run).
    @discardableResult
    public static func detach(_ body: @escaping @Sendable () -> Void) -> Bool {
        guard let thread = PosixThread(body) else { return false }
        pthread_detach(thread.handle)
        return true
    }
}

/// A counting semaphore for the notifier's wake-ups (heap-allocated: `sem_t` must not move).
public final class PosixSemaphore: @unchecked Sendable {
    // Safe: sem_t is designed for concurrent use through a stable pointer.
    private let sem: UnsafeMutablePointer<sem_t>

    public init() {
        sem = .allocate(capacity: 1)
        sem_init(sem, 0, 0)
    }

    deinit {
        sem_destroy(sem)
        sem.deallocate()
    }

    public func signal() { sem_post(sem) }

    public func wait() {
        while sem_wait(sem) != 0 && errno == EINTR {}
    }
}
