import Testing

@testable import DSDLog

@Suite struct LogRecordTests {
    @Test func roundTrip() {
        let records = [
            LogRecord(lsn: 1, type: 0, payload: []),
            LogRecord(lsn: 2, type: 7, payload: Array("change".utf8)),
            LogRecord(lsn: 3, type: 255, payload: [UInt8](repeating: 0xEE, count: 1000)),
        ]
        var bytes: [UInt8] = []
        for r in records {
            LogRecord.encode(lsn: r.lsn, type: r.type, payload: r.payload, into: &bytes)
        }
        var offset = 0
        for r in records {
            guard
                case .record(let decoded, let end) = LogRecord.decode(bytes, at: offset, expectedLSN: r.lsn)
            else {
                Issue.record("record \(r.lsn) did not decode")
                return
            }
            #expect(decoded == r)
            #expect(end - offset == LogRecord.headerSize + r.payload.count)
            offset = end
        }
        #expect(LogRecord.decode(bytes, at: offset, expectedLSN: 4) == .endOfLog)
    }

    @Test func layoutIsAsDocumented() {
        let bytes = LogRecord(lsn: 0x0102_0304_0506_0708, type: 9, payload: [0xAA, 0xBB]).encoded
        #expect(bytes.count == 19)
        #expect(Array(bytes[0..<4]) == [19, 0, 0, 0])
        #expect(Array(bytes[8..<16]) == [8, 7, 6, 5, 4, 3, 2, 1])
        #expect(bytes[16] == 9)
        #expect(Array(bytes[17...]) == [0xAA, 0xBB])
        let crc = CRC32C.checksum(bytes[8...])
        #expect(
            Array(bytes[4..<8]) == [
                UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24),
            ])
    }

    @Test func zerosAreEndOfLog() {
        #expect(LogRecord.decode([UInt8](repeating: 0, count: 64), at: 0, expectedLSN: 1) == .endOfLog)
        #expect(LogRecord.decode([0, 0], at: 0, expectedLSN: 1) == .endOfLog)
    }

    @Test func damageIsClassified() {
        let bytes = LogRecord(lsn: 5, type: 1, payload: Array("abcdef".utf8)).encoded
        if case .incomplete = LogRecord.decode(Array(bytes.dropLast()), at: 0, expectedLSN: 5) {
        } else {
            Issue.record("a short record must be incomplete")
        }
        if case .incomplete = LogRecord.decode(Array(bytes.prefix(3)), at: 0, expectedLSN: 5) {
        } else {
            Issue.record("a partial length field must be incomplete")
        }
        var flipped = bytes
        flipped[20] ^= 0x01
        if case .invalid = LogRecord.decode(flipped, at: 0, expectedLSN: 5) {
        } else {
            Issue.record("a flipped payload bit must fail the checksum")
        }
        if case .invalid = LogRecord.decode(bytes, at: 0, expectedLSN: 6) {
        } else {
            Issue.record("an unexpected lsn must be invalid")
        }
        var short = bytes
        short[0] = 5
        if case .invalid = LogRecord.decode(short, at: 0, expectedLSN: 5) {
        } else {
            Issue.record("a length below the header size must be invalid")
        }
    }
}
