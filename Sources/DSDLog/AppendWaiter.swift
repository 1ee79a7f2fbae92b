import Dispatch
import Synchronization

/// Who waits for a record to become durable: a suspended task, a blocked thread or a callback.
enum AppendWaiter: Sendable {
    case task(UnsafeContinuation<Result<UInt64, LogError>, Never>)
    case thread(ThreadWaiter)
    /// A callback run on the committer thread; it must not block.
    case callback(@Sendable (Result<UInt64, LogError>) -> Void)

    func complete(_ result: Result<UInt64, LogError>) {
        switch self {
        case .task(let continuation): continuation.resume(returning: result)
        case .thread(let waiter): waiter.complete(result)
        case .callback(let body): body(result)
        }
    }
}

/// A blocked `appendSync` caller: the result slot plus a semaphore to park on.
final class ThreadWaiter: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let slot = Mutex<Result<UInt64, LogError>?>(nil)

    func complete(_ result: Result<UInt64, LogError>) {
        slot.withLock { $0 = result }
        semaphore.signal()
    }

    func wait() -> Result<UInt64, LogError> {
        semaphore.wait()
        return slot.withLock { $0! }
    }
}
