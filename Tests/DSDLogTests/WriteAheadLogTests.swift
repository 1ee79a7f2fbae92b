import Foundation
import Synchronization
import Testing

@testable import DSDLog

@Suite(.serialized) struct WriteAheadLogTests {
    @Test func emptyLogOpensEmpty() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let (state, writer) = try openLog(dir)
        defer { writer.close() }
        #expect(state.snapshot == nil)
        #expect(state.records.isEmpty)
        #expect(writer.nextLSN == 1)
        #expect(dir.segments() == ["segment-0000000000000001.wal"])
    }

    @Test func replayAfterCleanCloseAcrossRollover() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        var written: [LogRecord] = []
        do {
            let (_, writer) = try openLog(dir)
            for i in 0..<1000 {
                let p = payload(i, bytes: i % 97)
                let lsn = try writer.appendSync(p, type: UInt8(i % 3))
                written.append(LogRecord(lsn: lsn, type: UInt8(i % 3), payload: p))
            }
            writer.close()
        }
        #expect(written.map(\.lsn) == Array(1...1000))
        #expect(dir.segments().count > 3, "16 KiB segments must roll over")
        for _ in 0..<2 {
            let (state, writer) = try openLog(dir)
            #expect(state.records == written)
            #expect(writer.nextLSN == 1001)
            writer.close()
        }
    }

    @Test func appendsContinueAfterReopen() async throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        do {
            let (_, writer) = try openLog(dir)
            #expect(try await writer.append(payload(1)) == 1)
            #expect(try await writer.append(payload(2)) == 2)
            writer.close()
        }
        do {
            let (state, writer) = try openLog(dir)
            #expect(state.records.map(\.lsn) == [1, 2])
            #expect(try await writer.append(payload(3)) == 3)
            writer.close()
        }
        let (state, writer) = try openLog(dir)
        writer.close()
        #expect(state.records.map(\.payload) == [payload(1), payload(2), payload(3)])
    }

    @Test func snapshotCompactsCoveredSegments() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        do {
            let (_, writer) = try openLog(dir)
            for i in 1...600 { _ = try writer.appendSync(payload(i)) }
            let before = dir.segments()
            #expect(before.count >= 3)
            try writer.writeSnapshot(Array("state at 500".utf8), upTo: 500)
            let after = dir.segments()
            #expect(after.count < before.count)
            #expect(dir.files().contains("snapshot-00000000000001f4.snap"))
            // The oldest surviving segment still holds lsn 501.
            let firstBase = UInt64(after[0].dropFirst("segment-".count).dropLast(4), radix: 16)!
            #expect(firstBase <= 501)
            for i in 601...700 { _ = try writer.appendSync(payload(i)) }
            try writer.writeSnapshot(Array("state at 650".utf8), upTo: 650)
            #expect(dir.files().filter { $0.hasSuffix(".snap") } == ["snapshot-000000000000028a.snap"])
            writer.close()
        }
        let (state, writer) = try openLog(dir)
        defer { writer.close() }
        #expect(state.snapshot == Array("state at 650".utf8))
        #expect(state.records.map(\.lsn) == Array(651...700))
        #expect(state.records.map(\.payload) == (651...700).map { payload($0) })
        #expect(writer.nextLSN == 701)
    }

    @Test func snapshotMustBeDurable() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let (_, writer) = try openLog(dir)
        defer { writer.close() }
        _ = try writer.appendSync(payload(1))
        #expect(throws: LogError.snapshotBeyondLog(requested: 2, durable: 1)) {
            try writer.writeSnapshot([1], upTo: 2)
        }
    }

    @Test func damagedSnapshotRefusesToOpen() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        do {
            let (_, writer) = try openLog(dir)
            _ = try writer.appendSync(payload(1))
            try writer.writeSnapshot(Array("snap".utf8), upTo: 1)
            writer.close()
        }
        let path = dir.log + "/snapshot-0000000000000001.snap"
        var bytes = readFile(path)
        bytes[bytes.count - 1] ^= 0xFF
        writeFile(path, bytes)
        #expect(throws: LogError.corrupt(file: path, offset: 0, reason: "snapshot checksum mismatch")) {
            try openLog(dir)
        }
    }

    @Test func zeroFilledTailIsEndOfLog() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let capture = LogCapture()
        do {
            let (_, writer) = try openLog(dir, logger: capture.logger)
            for i in 1...5 { _ = try writer.appendSync(payload(i)) }
            writer.close()
        }
        let segment = dir.log + "/" + dir.segments()[0]
        #expect(
            readFile(segment).count == LogSettings.testing.segmentBytes, "segments are preallocated")
        let (state, writer) = try openLog(dir, logger: capture.logger)
        writer.close()
        #expect(state.records.map(\.lsn) == [1, 2, 3, 4, 5])
        #expect(capture.warnings.isEmpty)
    }

    @Test func withoutPreallocationTheFileGrows() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        var settings = LogSettings.testing
        settings.preallocate = false
        do {
            let (_, writer) = try openLog(dir, settings: settings)
            for i in 1...5 { _ = try writer.appendSync(payload(i)) }
            writer.close()
        }
        #expect(readFile(dir.log + "/" + dir.segments()[0]).count == 16 + 5 * (17 + 40))
        let (state, writer) = try openLog(dir, settings: settings)
        writer.close()
        #expect(state.records.count == 5)
    }

    @Test func queuedRecordsWaitForTheCallersCommitAndCompleteOnItsThread() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let (_, writer) = try openLog(dir)
        let caller = pthread_self()
        let completions = Mutex<[(lsn: UInt64, onCaller: Bool)]>([])
        for i in 1...5 {
            writer.enqueue(payload(i)) { result in
                let lsn = try! result.get()
                completions.withLock { $0.append((lsn, pthread_equal(pthread_self(), caller) != 0)) }
            }
        }
        // Queued, not committed: the committer thread was not woken.
        usleep(50_000)
        #expect(completions.withLock { $0.isEmpty })
        #expect(writer.durableLSN == 0)
        let commitsBefore = writer.commits
        writer.commitQueued()
        let done = completions.withLock { $0 }
        #expect(done.map(\.lsn) == [1, 2, 3, 4, 5], "in LSN order, all in one commit")
        let onCaller = done.filter { $0.onCaller }.count
        #expect(onCaller == 5, "completed on the committing thread")
        #expect(writer.commits == commitsBefore + 1)
        #expect(writer.durableLSN == 5)
        writer.close()
        let (state, reopened) = try openLog(dir)
        defer { reopened.close() }
        #expect(state.records.map(\.payload) == (1...5).map { payload($0) })
    }

    @Test func concurrentAppendsShareSyncs() async throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let (_, writer) = try openLog(dir)
        let lsns = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for w in 0..<16 {
                group.addTask {
                    var mine: [UInt64] = []
                    for i in 0..<40 { mine.append(try await writer.append(payload(w * 1000 + i))) }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let threadLSNs = Mutex<[UInt64]>([])
        let done = DispatchGroup()
        for w in 0..<8 {
            done.enter()
            Thread.detachNewThread {
                for i in 0..<40 {
                    let lsn = try! writer.appendSync(payload(50_000 + w * 1000 + i))
                    threadLSNs.withLock { $0.append(lsn) }
                }
                done.leave()
            }
        }
        done.wait()
        let all = lsns + threadLSNs.withLock { $0 }
        #expect(all.sorted() == Array(1...960))
        #expect(writer.durableLSN == 960)
        #expect(writer.commits < 960, "concurrent appends must share commits")
        writer.close()
        let (state, again) = try openLog(dir)
        again.close()
        #expect(state.records.count == 960)
    }

    @Test func appendAfterCloseFails() async throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let (_, writer) = try openLog(dir)
        writer.close()
        writer.close()
        #expect(throws: LogError.closed) { try writer.appendSync([1]) }
        await #expect(throws: LogError.closed) { try await writer.append([1]) }
    }

    @Test func oversizedRecordIsRejected() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let (_, writer) = try openLog(dir)
        defer { writer.close() }
        let limit = LogSettings.testing.maxRecordBytes
        #expect(throws: LogError.recordTooLarge(bytes: limit + 1, limit: limit)) {
            try writer.appendSync([UInt8](repeating: 1, count: limit + 1))
        }
        // A record near the limit is larger than half a segment: it still rolls over cleanly.
        _ = try writer.appendSync([UInt8](repeating: 2, count: limit))
        _ = try writer.appendSync([UInt8](repeating: 3, count: limit))
        #expect(writer.durableLSN == 2)
    }
}
