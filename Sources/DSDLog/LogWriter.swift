import DSDPosix
import Glibc
import Logging
import Synchronization

/// The append side of an open log. Obtained only from `WriteAheadLog.open`, after replay.
///
/// Every append is acknowledged only after the `fdatasync` that made it durable; concurrent
/// appends share one write and one sync (group commit). Sendable: all mutable state lives
/// behind the committer's mutexes.
public final class LogWriter: Sendable {
    let committer: LogCommitter
    private let thread: Mutex<PosixThread?>
    /// Serialises `writeSnapshot` calls.
    private let snapshotting = Mutex<Void>(())

    init(committer: LogCommitter) throws(LogError) {
        self.committer = committer
        do throws(PosixError) {
            self.thread = Mutex(try PosixThread.start { committer.runCommitter() })
        } catch {
            committer.closeFile()
            throw .io(operation: "pthread_create", path: committer.directory, errno: error.errno)
        }
    }

    deinit {
        close()
    }

    /// Appends a record and suspends until it is durable. Returns its LSN.
    public func append(_ payload: some Collection<UInt8>, type: UInt8 = 0) async throws(LogError)
        -> UInt64
    {
        let result = await withUnsafeContinuation {
            (continuation: UnsafeContinuation<Result<UInt64, LogError>, Never>) in
            committer.enqueue(payload, type: type, waiter: .task(continuation), mayLead: false)
        }
        return try result.get()
    }

    /// Appends a record and calls `completion` with its LSN once it is durable (or with the
    /// error). The completion runs on the committer thread, in LSN order, and must not block:
    /// event-loop drivers hop back to their loop from it.
    public func append(
        _ payload: some Collection<UInt8>, type: UInt8 = 0,
        completion: @escaping @Sendable (Result<UInt64, LogError>) -> Void
    ) {
        _ = committer.enqueue(payload, type: type, waiter: .callback(completion), mayLead: false)
    }

    /// Queues a record without waking the committer thread, for a caller that gathers records
    /// and then commits them itself with `commitQueued()` — an event loop that syncs once per
    /// loop iteration, with no thread hop either way. `completion` runs on the thread that
    /// commits the record (the caller's, unless the committer was already running), in LSN
    /// order, and must not block.
    public func enqueue(
        _ payload: some Collection<UInt8>, type: UInt8 = 0,
        completion: @escaping @Sendable (Result<UInt64, LogError>) -> Void
    ) {
        _ = committer.enqueue(payload, type: type, waiter: .callback(completion), mayLead: false, wakeCommitter: false)
    }

    /// Writes and syncs every queued record on the calling thread, completing their waiters
    /// here; when a commit is already running, its thread takes them next instead. Blocks for
    /// one write and one sync.
    public func commitQueued() {
        committer.commitOnce()
    }

    /// Appends a record and blocks the calling thread until it is durable. Returns its LSN.
    /// A lone writer writes and syncs its record itself (no thread hop); concurrent writers
    /// are batched by the committer thread. Never call this from the Swift concurrency pool:
    /// use `append`.
    public func appendSync(_ payload: some Collection<UInt8>, type: UInt8 = 0) throws(LogError)
        -> UInt64
    {
        let waiter = ThreadWaiter()
        if committer.enqueue(payload, type: type, waiter: .thread(waiter), mayLead: true) {
            committer.commitOnce()
        }
        return try waiter.wait().get()
    }

    /// The highest LSN known durable.
    public var durableLSN: UInt64 {
        committer.pending.withLock { $0.durableLSN }
    }

    /// How many group commits (one write and one sync each) have completed.
    public var commits: UInt64 {
        committer.pending.withLock { $0.commits }
    }

    /// The LSN the next append will receive.
    public var nextLSN: UInt64 {
        committer.pending.withLock { $0.nextLSN }
    }

    /// Writes a snapshot of the state after applying every record up to `lsn` (which must be
    /// durable), then deletes the snapshots before it and the segments it covers completely.
    /// The snapshot is created as `.tmp`, fsynced, renamed, and the directory fsynced.
    public func writeSnapshot(_ bytes: some Collection<UInt8>, upTo lsn: UInt64) throws(LogError) {
        let file = LogFiles.snapshotFile(lsn: lsn, payload: bytes)
        try snapshotting.withLock { (_: inout Void) throws(LogError) in
            try writeSnapshotFile(file, lsn: lsn)
        }
    }

    private func writeSnapshotFile(_ file: [UInt8], lsn: UInt64) throws(LogError) {
        let durable = durableLSN
        guard lsn <= durable else { throw .snapshotBeyondLog(requested: lsn, durable: durable) }
        let directory = committer.directory
        try file.withRawBytes { (raw) throws(LogError) in
            try Posix.createDurably(
                directory: directory, name: LogFiles.snapshotName(lsn: lsn), contents: raw, zeroFillTo: 0,
                keepOpen: false)
        }
        var removed = false
        for name in try Posix.list(directory) {
            if let older = LogFiles.snapshotLSN(name), older < lsn {
                try Posix.unlink(directory + "/" + name)
                removed = true
            }
        }
        if removed { try Posix.fsyncDirectory(directory) }
        try committer.compact(upTo: lsn)
        committer.logger.info("log snapshot written", metadata: ["log.snapshot.lsn": "\(lsn)"])
    }

    /// Waits for every accepted append to be durable, stops the committer thread and closes
    /// the segment. Later appends fail with `.closed`. Idempotent.
    public func close() {
        guard
            let committerThread = thread.withLock({ t -> PosixThread? in
                defer { t = nil }
                return t
            })
        else { return }
        let signal = committer.pending.withLock { p -> Bool in
            p.closing = true
            if p.committerSignaled { return false }
            p.committerSignaled = true
            return true
        }
        if signal { committer.wake.signal() }
        committerThread.join()
        committer.closeFile()
    }
}
