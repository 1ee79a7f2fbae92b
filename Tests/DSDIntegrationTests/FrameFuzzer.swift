import DSDCore
import DSDTestSupport
import DSDWire
import NIOCore

/// Frames for fuzzing a live directory: valid messages of every kind encoded with the real
/// codec, the same bytes mutated, and plain random bytes.
struct FrameFuzzer {
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func byte() -> UInt8 { UInt8.random(in: 0...255, using: &random) }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in byte() } }
    mutating func version() -> Version {
        Version(epoch: UInt64(int(0...3)) == 0 ? .max : UInt64(int(0...2_000_000_000)), index: UInt64(int(0...100_000)))
    }
    mutating func key() -> String { "FZ.\(int(0...999))" }
    mutating func entry() -> Entry {
        Entry(key: key(), value: "HOST\(int(0...99)):\(int(1...65535))", valid: int(0...1) == 1)
    }
    mutating func table() -> TableID {
        int(0...3) == 0 ? TableID(UInt32(int(0...5000))) : StandardTable.smsa.id
    }

    /// A well-formed message of a random kind (some are out of place for the directory).
    mutating func message() -> Message {
        switch int(0...17) {
        case 0:
            .hello(Hello(role: Role.allCases[int(0...4)], nonce: .random(using: &random), name: "fuzz\(int(0...9))"))
        case 1: .authProof(mac: .random(using: &random))
        case 2: .authOK
        case 3: .error(.malformed, message: "fuzz")
        case 4: .sync(from: int(0...1) == 0 ? nil : version())
        case 5: .change(Change(version: version(), mutation: .put(table(), entry())))
        case 6: .snapshotBegin(version: version(), tableCount: UInt32(int(0...10)))
        case 7: .snapshotTable(SnapshotChunk(id: table(), name: "FZ_T", entries: [entry(), entry()]))
        case 8: .snapshotEnd(version: version())
        case 9, 10: .ping(UInt64(int(0...Int.max)))
        case 11: .pong(UInt64(int(0...Int.max)))
        case 12: .request(id: UInt64(int(0...1000)), .put(table(), entry()))
        case 13: .request(id: UInt64(int(0...1000)), .delete(table(), key: key()))
        case 14: .request(id: UInt64(int(0...1000)), .dropTable(TableID(UInt32(int(0...2000)))))
        case 15: .response(id: 1, .ok(version()))
        case 16: .clientRequest(id: 1, .get(table: "DSD_SMSA", key: key()))
        default: .clientReply(id: 1, .ok(nil))
        }
    }

    /// A message the directory accepts from an authenticated agent.
    mutating func acceptedMessage() -> Message {
        switch int(0...5) {
        case 0: .ping(UInt64(int(0...Int.max)))
        case 1: .pong(UInt64(int(0...Int.max)))
        case 2: .sync(from: int(0...3) == 0 ? nil : version())
        case 3: .request(id: UInt64(int(0...1000)), .put(table(), entry()))
        case 4: .request(id: UInt64(int(0...1000)), .delete(table(), key: key()))
        default: .request(id: UInt64(int(0...1000)), .dropTable(TableID(UInt32(int(0...2000)))))
        }
    }

    func encode(_ message: Message) -> [UInt8] {
        var buffer = ByteBuffer()
        do {
            try buffer.writeFrame(message)
        } catch {
            preconditionFailure("sample messages are within limits: \(error)")
        }
        return Array(buffer.readableBytesView)
    }

    /// A frame that is (probably) broken: an encoded message with a random mutation, or noise.
    mutating func mutatedFrame() -> [UInt8] {
        var frame = encode(message())
        switch int(0...7) {
        case 0:  // flip a few bytes anywhere
            for _ in 0..<int(1...4) { frame[int(0...(frame.count - 1))] ^= UInt8(1 << int(0...7)) }
        case 1:  // cut short
            frame = Array(frame.prefix(int(0...(frame.count - 1))))
        case 2:  // insert noise
            frame.insert(contentsOf: bytes(int(1...16)), at: int(0...frame.count))
        case 3:  // another opcode, valid or not
            let lengthBytes = frame.prefix(3).firstIndex { $0 & 0x80 == 0 }.map { $0 + 1 } ?? 1
            if lengthBytes < frame.count { frame[lengthBytes] = byte() }
        case 4:  // a lying length prefix, sometimes overlong or huge
            let lies: [[UInt8]] = [
                [byte() & 0x7F], [0x80, 0x00], [0xFF, 0xFF, 0x7F], [0xFF, 0xFF, 0xFF, 0x01],
                [byte() | 0x80, byte() & 0x7F],
            ]
            let lengthBytes = frame.prefix(3).firstIndex { $0 & 0x80 == 0 }.map { $0 + 1 } ?? 1
            frame.replaceSubrange(0..<lengthBytes, with: lies[int(0...(lies.count - 1))])
        case 5:  // overwrite the body with noise, keep the header
            for index in min(2, frame.count)..<frame.count { frame[index] = byte() }
        case 6:  // plain random bytes
            frame = bytes(int(1...64))
        default:  // duplicate a slice
            let start = int(0...(frame.count - 1))
            let end = int(start...(frame.count - 1))
            frame.insert(contentsOf: frame[start...end], at: int(0...frame.count))
        }
        return frame
    }
}
