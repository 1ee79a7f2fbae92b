import Foundation
import Testing

@testable import DSDLog

@Suite(.serialized) struct SegmentRecoveryTests {
    static let recordSize = LogRecord.headerSize + 40

    /// Writes `count` records of 40 bytes and returns the path of the (single) segment.
    func makeLog(_ dir: TempDirectory, count: Int) throws -> String {
        let (_, writer) = try openLog(dir)
        for i in 1...count { _ = try writer.appendSync(payload(i)) }
        writer.close()
        return dir.log + "/" + dir.segments()[0]
    }

    /// Writes 800 records of 40 bytes, several segments' worth, and returns the segment names.
    func makeSegments(_ dir: TempDirectory) throws -> [String] {
        let (_, writer) = try openLog(dir)
        for i in 1...800 { _ = try writer.appendSync(payload(i)) }
        writer.close()
        return dir.segments()
    }

    func corruptOffset(_ body: () throws -> Void) -> (file: String, offset: Int64)? {
        do {
            try body()
        } catch let error as LogError {
            if case .corrupt(let file, let offset, _) = error { return (file, offset) }
            Issue.record("unexpected error \(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
        return nil
    }

    @Test func tornTailAtEveryOffsetIsTruncated() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let segment = try makeLog(dir, count: 5)
        let original = readFile(segment)
        let lastStart = 16 + 4 * Self.recordSize
        for cut in (lastStart + 1)..<(lastStart + Self.recordSize) {
            writeFile(segment, Array(original[0..<cut]))
            let capture = LogCapture()
            let (state, writer) = try openLog(dir, logger: capture.logger)
            #expect(state.records.map(\.lsn) == [1, 2, 3, 4], "cut at \(cut)")
            let warnings = capture.warnings
            #expect(warnings.count == 1, "cut at \(cut)")
            #expect(warnings.first?.metadata["log.file"] == segment)
            #expect(warnings.first?.metadata["log.offset"] == "\(lastStart)")
            #expect(try writer.appendSync(Array("after \(cut)".utf8)) == 5)
            writer.close()
            let (reopened, again) = try openLog(dir, logger: capture.logger)
            again.close()
            #expect(reopened.records.map(\.lsn) == [1, 2, 3, 4, 5])
            #expect(reopened.records.last?.payload == Array("after \(cut)".utf8))
            #expect(capture.warnings.count == 1, "the repair is durable")
        }
    }

    @Test func cutAtARecordBoundaryIsClean() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let segment = try makeLog(dir, count: 5)
        writeFile(segment, Array(readFile(segment)[0..<(16 + 3 * Self.recordSize)]))
        let capture = LogCapture()
        let (state, writer) = try openLog(dir, logger: capture.logger)
        writer.close()
        #expect(state.records.map(\.lsn) == [1, 2, 3])
        #expect(capture.warnings.isEmpty)
    }

    @Test func badChecksumOnTheLastRecordIsTorn() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let segment = try makeLog(dir, count: 5)
        var bytes = readFile(segment)
        bytes[16 + 4 * Self.recordSize + 30] ^= 0x40
        writeFile(segment, bytes)
        let capture = LogCapture()
        let (state, writer) = try openLog(dir, logger: capture.logger)
        writer.close()
        #expect(state.records.map(\.lsn) == [1, 2, 3, 4])
        #expect(capture.warnings.count == 1)
    }

    @Test func flippedByteInAMiddleRecordIsCorruption() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let segment = try makeLog(dir, count: 5)
        let original = readFile(segment)
        let third = 16 + 2 * Self.recordSize
        // Every byte of the record: length, checksum, lsn, type, payload.
        for position in third..<(third + Self.recordSize) {
            for mask: UInt8 in [0x01, 0x80] {
                var bytes = original
                bytes[position] ^= mask
                writeFile(segment, bytes)
                let found = corruptOffset { _ = try openLog(dir) }
                #expect(found?.file == segment, "byte \(position)")
                #expect(found?.offset == Int64(third), "byte \(position) mask \(mask)")
            }
        }
        writeFile(segment, original)
        let (state, writer) = try openLog(dir)
        writer.close()
        #expect(state.records.count == 5, "the untouched log still opens")
    }

    @Test func zeroedLengthBeforeGoodRecordsIsCorruption() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let segment = try makeLog(dir, count: 5)
        var bytes = readFile(segment)
        let second = 16 + Self.recordSize
        for i in second..<(second + 4) { bytes[i] = 0 }
        writeFile(segment, bytes)
        let found = corruptOffset { _ = try openLog(dir) }
        #expect(found?.file == segment)
        #expect(found?.offset == Int64(second))
    }

    @Test func damageInASealedSegmentIsCorruption() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let segments = try makeSegments(dir)
        #expect(segments.count >= 3)
        let first = dir.log + "/" + segments[0]
        var bytes = readFile(first)
        // The last record of the first segment: records are 57 bytes from offset 16.
        let perSegment = (LogSettings.testing.segmentBytes - 16) / Self.recordSize
        let last = 16 + (perSegment - 1) * Self.recordSize
        bytes[last + 20] ^= 0x01
        writeFile(first, bytes)
        let found = corruptOffset { _ = try openLog(dir) }
        #expect(found?.file == first)
        #expect(found?.offset == Int64(last))
    }

    @Test func missingSegmentIsCorruption() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let segments = try makeSegments(dir)
        try FileManager.default.removeItem(atPath: dir.log + "/" + segments[1])
        let found = corruptOffset { _ = try openLog(dir) }
        #expect(found?.file == dir.log + "/" + segments[2])
        #expect(found?.offset == 0)
    }

    @Test func leftoverTempFilesAreRemoved() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        _ = try makeLog(dir, count: 2)
        writeFile(dir.log + "/segment-0000000000000003.wal.tmp", [1, 2, 3])
        let (state, writer) = try openLog(dir)
        writer.close()
        #expect(state.records.count == 2)
        #expect(!dir.files().contains { $0.hasSuffix(".tmp") })
    }
}
