import DSDLog

/// The tool's replayed state: records whose payload starts with a little-endian UInt64
/// sequence number. Tracks whether the sequence numbers are 1, 2, 3, ... without gaps.
struct SequenceLog: LogReplayable {
    var count: UInt64 = 0
    var first: UInt64?
    var last: UInt64?
    var contiguous = true
    var firstBreak: (after: UInt64?, found: UInt64)?

    init(snapshot: [UInt8]?) throws {
        // The tool never writes snapshots; a snapshot here is someone else's log.
        if snapshot != nil { throw ToolError.unexpectedSnapshot }
    }

    mutating func replay(lsn: UInt64, type: UInt8, payload: [UInt8]) throws {
        guard let sequence = Self.sequence(in: payload) else { throw ToolError.shortPayload(lsn: lsn) }
        if sequence != (last ?? 0) + 1, contiguous {
            contiguous = false
            firstBreak = (last, sequence)
        }
        if first == nil { first = sequence }
        last = sequence
        count += 1
    }

    static func payload(sequence: UInt64, bytes: Int) -> [UInt8] {
        var payload = [UInt8](repeating: 0xA5, count: max(8, bytes))
        for i in 0..<8 { payload[i] = UInt8(truncatingIfNeeded: sequence >> (8 * UInt64(i))) }
        return payload
    }

    static func sequence(in payload: [UInt8]) -> UInt64? {
        guard payload.count >= 8 else { return nil }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(payload[i]) << (8 * UInt64(i)) }
        return value
    }
}

enum ToolError: Error, CustomStringConvertible {
    case unexpectedSnapshot
    case shortPayload(lsn: UInt64)

    var description: String {
        switch self {
        case .unexpectedSnapshot: "the log has a snapshot; dsd-wal-tool only reads plain sequence logs"
        case .shortPayload(let lsn): "record \(lsn) is shorter than a sequence number"
        }
    }
}
