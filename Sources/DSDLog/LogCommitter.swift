import Dispatch
import Glibc
import Logging
import Synchronization

/// The group-commit engine behind `LogWriter`.
///
/// Appenders encode their record into `pending` under the lock and get the next LSN. Whoever
/// finds no commit in progress takes the whole pending buffer and writes it with one `pwrite`
/// and one `fdatasync`: a blocked `appendSync` caller does this itself (no thread hop), async
/// appenders wake the dedicated committer thread. Records that arrive during a sync form the
/// next batch. Waiters are completed only after the sync that covers their record.
final class LogCommitter: Sendable {
    struct Pending {
        var buffer: [UInt8] = []
        var waiters: [(lsn: UInt64, waiter: AppendWaiter)] = []
        var nextLSN: UInt64
        var durableLSN: UInt64
        var committing = false
        var committerSignaled = false
        var closing = false
        var failure: LogError?
        /// Completed group commits (write + fdatasync rounds).
        var commits: UInt64 = 0
        /// Records in the latest commit: more than one means concurrent writers.
        var lastBatch = 0
    }

    /// The open segment; touched only by the party that set `Pending.committing`, and by
    /// compaction.
    struct Segments {
        var fd: Int32
        var path: String
        var offset: Int64
        var bases: [UInt64]
    }

    let directory: String
    let settings: LogSettings
    let logger: Logger
    let pending: Mutex<Pending>
    let segments: Mutex<Segments>
    let wake = DispatchSemaphore(value: 0)

    init(
        directory: String, settings: LogSettings, logger: Logger, segments: Segments, nextLSN: UInt64
    ) {
        self.directory = directory
        self.settings = settings
        self.logger = logger
        self.pending = Mutex(Pending(nextLSN: nextLSN, durableLSN: nextLSN - 1))
        self.segments = Mutex(segments)
    }

    // MARK: Appending

    /// Encodes the record and queues it, or completes the waiter with the error when the log
    /// cannot accept it. Returns true when the caller should commit the batch itself: it asked
    /// to (`mayLead`, a thread that blocks anyway), no commit is running, and the latest batch
    /// held a single record, so there are no concurrent writers for the committer to gather.
    /// `wakeCommitter: false` leaves an idle committer asleep: the caller commits the batch
    /// itself with `commitOnce()` (a commit already running takes it next).
    @discardableResult
    func enqueue(
        _ payload: some Collection<UInt8>, type: UInt8, waiter: AppendWaiter, mayLead: Bool, wakeCommitter: Bool = true
    ) -> Bool {
        let count = payload.count
        if count > settings.maxRecordBytes {
            waiter.complete(.failure(.recordTooLarge(bytes: count, limit: settings.maxRecordBytes)))
            return false
        }
        let (rejection, lead, signal): (LogError?, Bool, Bool) = pending.withLock { p in
            if let failure = p.failure { return (failure, false, false) }
            if p.closing { return (.closed, false, false) }
            let lsn = p.nextLSN
            p.nextLSN += 1
            LogRecord.encode(lsn: lsn, type: type, payload: payload, into: &p.buffer)
            p.waiters.append((lsn, waiter))
            if mayLead && !p.committing && p.lastBatch <= 1 { return (nil, true, false) }
            if p.committing || p.committerSignaled || !wakeCommitter { return (nil, false, false) }
            p.committerSignaled = true
            return (nil, false, true)
        }
        if let rejection { waiter.complete(.failure(rejection)) }
        if signal { wake.signal() }
        return lead
    }

    /// Takes the pending batch when no commit is running, writes and syncs it, completes its
    /// waiters. Returns how many records it committed, nil when there was nothing to take.
    @discardableResult
    func commitOnce() -> Int? {
        let taken: (buffer: [UInt8], waiters: [(lsn: UInt64, waiter: AppendWaiter)])? = pending.withLock { p in
            if p.committing || p.waiters.isEmpty { return nil }
            p.committing = true
            defer {
                p.buffer.removeAll(keepingCapacity: true)
                p.waiters.removeAll(keepingCapacity: true)
            }
            return (p.buffer, p.waiters)
        }
        guard let taken else { return nil }
        let firstLSN = taken.waiters[0].lsn
        var outcome: LogError?
        do throws(LogError) {
            try write(taken.buffer, firstLSN: firstLSN)
        } catch {
            outcome = error
            logger.error("log write failed", metadata: ["log.error": "\(error)"])
        }
        let (failedLater, signal): ([(lsn: UInt64, waiter: AppendWaiter)], Bool) = pending.withLock {
            p in
            p.committing = false
            var failedLater: [(lsn: UInt64, waiter: AppendWaiter)] = []
            if let outcome {
                p.failure = outcome
                failedLater = p.waiters
                p.waiters.removeAll()
                p.buffer.removeAll()
            } else {
                p.durableLSN = taken.waiters[taken.waiters.count - 1].lsn
                p.commits += 1
                p.lastBatch = taken.waiters.count
            }
            let needCommitter = (!p.waiters.isEmpty || p.closing) && !p.committerSignaled
            if needCommitter { p.committerSignaled = true }
            return (failedLater, needCommitter)
        }
        if signal { wake.signal() }
        for (lsn, waiter) in taken.waiters {
            waiter.complete(outcome.map { .failure($0) } ?? .success(lsn))
        }
        for (_, waiter) in failedLater { waiter.complete(.failure(outcome ?? .closed)) }
        return taken.waiters.count
    }

    /// The committer thread's body: commit whatever accumulates until closed and drained.
    ///
    /// - Gathering: when the previous batch came from several writers, those writers are about
    ///   to append again (they were all waiting for that sync). The committer waits until as
    ///   many records are pending, at most `groupCommitGatherMicroseconds`, so they share the
    ///   next sync instead of the first of them taking a sync alone.
    /// - Spinning: once drained it polls for `committerSpinMicroseconds` before sleeping, so a
    ///   writer that appends again right after its acknowledgement costs no thread wake-up.
    ///
    /// `committerSignaled` stays true while the thread is awake: appenders then skip the signal.
    func runCommitter() {
        wake.wait()
        var lastBatch = 0
        while true {
            if lastBatch > 1 {
                let expected = lastBatch
                spin(microseconds: settings.groupCommitGatherMicroseconds) { p in
                    p.waiters.count < expected && !p.closing
                }
            }
            if let committed = commitOnce() {
                lastBatch = committed
                continue
            }
            lastBatch = 0
            spin(microseconds: settings.committerSpinMicroseconds) { p in p.waiters.isEmpty && !p.closing }
            let next: Bool? = pending.withLock { p in
                if p.closing && p.waiters.isEmpty && !p.committing { return nil }
                if !p.waiters.isEmpty && !p.committing { return false }
                p.committerSignaled = false
                return true
            }
            guard let sleep = next else { return }
            if sleep { wake.wait() }
        }
    }

    /// Yields the CPU while `condition` holds, for at most `microseconds`.
    private func spin(microseconds: Int, while condition: (borrowing Pending) -> Bool) {
        if microseconds <= 0 { return }
        let until = Self.monotonicMicroseconds() + Int64(microseconds)
        while Self.monotonicMicroseconds() < until, pending.withLock({ condition($0) }) {
            sched_yield()
        }
    }

    static func monotonicMicroseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    // MARK: Writing

    /// Writes a batch of encoded records, rolling over to new segments at record boundaries,
    /// and syncs every segment it wrote to.
    func write(_ batch: [UInt8], firstLSN: UInt64) throws(LogError) {
        let capacity = Int64(settings.segmentBytes)
        try segments.withLock { (s: inout Segments) throws(LogError) in
            try batch.withRawBytes { (raw: UnsafeRawBufferPointer) throws(LogError) in
                var chunkStart = 0
                var position = 0
                var lsn = firstLSN
                while position < raw.count {
                    let length = Int(raw.littleEndian(at: position, as: UInt32.self))
                    let chunkBytes = Int64(position - chunkStart)
                    let segmentEmpty = s.offset + chunkBytes == Int64(LogFiles.segmentHeaderSize)
                    if s.offset + chunkBytes + Int64(length) > capacity && !segmentEmpty {
                        try flush(&s, UnsafeRawBufferPointer(rebasing: raw[chunkStart..<position]))
                        try rollOver(&s, base: lsn)
                        chunkStart = position
                    }
                    position += length
                    lsn += 1
                }
                try flush(&s, UnsafeRawBufferPointer(rebasing: raw[chunkStart..<position]))
            }
        }
    }

    private func flush(_ s: inout Segments, _ bytes: UnsafeRawBufferPointer) throws(LogError) {
        if bytes.isEmpty { return }
        try Posix.pwriteAll(s.fd, bytes, at: s.offset, path: s.path)
        try Posix.fdatasync(s.fd, path: s.path)
        s.offset += Int64(bytes.count)
    }

    /// Seals the current segment (already synced) and opens a new one starting at `base`.
    private func rollOver(_ s: inout Segments, base: UInt64) throws(LogError) {
        let name = LogFiles.segmentName(base: base)
        let header = LogFiles.segmentHeader(base: base)
        let fill = settings.preallocate ? Int64(settings.segmentBytes) : 0
        let fd = try header.withRawBytes { (raw) throws(LogError) in
            try Posix.createDurably(
                directory: directory, name: name, contents: raw, zeroFillTo: fill, keepOpen: true)
        }
        Posix.close(s.fd)
        s.fd = fd!
        s.path = directory + "/" + name
        s.offset = Int64(LogFiles.segmentHeaderSize)
        s.bases.append(base)
        logger.debug("log segment rollover", metadata: ["log.file": "\(s.path)"])
    }

    // MARK: Snapshot compaction

    /// Deletes every segment whose records all have LSN <= `lsn`; never the open one.
    func compact(upTo lsn: UInt64) throws(LogError) {
        let doomed: [UInt64] = segments.withLock { s in
            var doomed: [UInt64] = []
            while s.bases.count >= 2 && s.bases[1] <= lsn + 1 {
                doomed.append(s.bases.removeFirst())
            }
            return doomed
        }
        if doomed.isEmpty { return }
        for base in doomed {
            try Posix.unlink(directory + "/" + LogFiles.segmentName(base: base))
        }
        try Posix.fsyncDirectory(directory)
        logger.debug("log compacted", metadata: ["log.segments.removed": "\(doomed.count)"])
    }

    func closeFile() {
        segments.withLock { s in
            if s.fd >= 0 { Posix.close(s.fd) }
            s.fd = -1
        }
    }
}
