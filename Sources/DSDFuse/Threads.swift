import Glibc

/// A plain POSIX thread, so that FUSE handlers and the notifier never run on Swift's
/// cooperative pool (they block on syscalls and on the directory's commits).
struct PosixThread: Sendable {
    private let handle: pthread_t

    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    init?(_ run: @escaping @Sendable () -> Void) {
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
            return nil
        }
        handle = thread
    }

    func join() {
        pthread_join(handle, nil)
    }
}

/// A counting semaphore for the notifier's wake-ups (heap-allocated: `sem_t` must not move).
final class Semaphore: @unchecked Sendable {
    // Safe: sem_t is designed for concurrent use through a stable pointer.
    private let sem: UnsafeMutablePointer<sem_t>

    init() {
        sem = .allocate(capacity: 1)
        sem_init(sem, 0, 0)
    }

    deinit {
        sem_destroy(sem)
        sem.deallocate()
    }

    func signal() { sem_post(sem) }

    func wait() {
        while sem_wait(sem) != 0 && errno == EINTR {}
    }
}
