import DSDCore
import DSDTestSupport
import NIOCore
import NIOEmbedded
import Testing

@testable import DSDWire

/// Randomised decoding of damaged input. Seeds are fixed so a failure reproduces; any input
/// that ever crashed or hung the decoder goes into `FuzzResultTests`.
@Suite struct FuzzTests {
    enum Outcome: Hashable {
        case decoded, incomplete, frameTooLarge, unknownType, malformed, trailingBytes
    }

    /// Decodes frames from `bytes` until one is incomplete or an error occurs; checks that
    /// every decoded frame consumed bytes and re-encodes to exactly those bytes.
    static func decodeAll(_ bytes: [UInt8]) -> [Outcome] {
        var buffer = ByteBuffer(bytes: bytes)
        var outcomes: [Outcome] = []
        while true {
            let start = buffer.readerIndex
            do {
                guard let message = try buffer.readFrame() else {
                    if buffer.readerIndex != start { Issue.record("incomplete frame moved the reader: \(bytes)") }
                    return outcomes + [.incomplete]
                }
                guard buffer.readerIndex > start else {
                    Issue.record("decoded without consuming: \(bytes)")
                    return outcomes
                }
                var again = ByteBuffer()
                let consumed = bytes[(start - 0)..<buffer.readerIndex]
                do {
                    try again.writeFrame(message)
                } catch {
                    Issue.record("decoded message does not re-encode (\(error)): \(bytes)")
                }
                if !again.readableBytesView.elementsEqual(consumed) {
                    Issue.record("non-canonical decode of \(Array(consumed))")
                }
                outcomes.append(.decoded)
            } catch {
                switch error {
                case .frameTooLarge: return outcomes + [.frameTooLarge]
                case .unknownType: return outcomes + [.unknownType]
                case .malformed: return outcomes + [.malformed]
                case .trailingBytes: return outcomes + [.trailingBytes]
                case .unsealFailed:
                    Issue.record("a clear frame decoder reported a sealed record: \(bytes)")
                    return outcomes
                }
            }
        }
    }

    static func mutate(_ bytes: inout [UInt8], using random: inout SplitMix64) {
        let interesting: [UInt8] = [0x00, 0x01, 0x02, 0x7F, 0x80, 0x81, 0xFE, 0xFF]
        for _ in 0...Int(random.next() % 3) {
            let position = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count))
            switch random.next() % 8 {
            case 0 where !bytes.isEmpty:
                bytes[position] ^= UInt8(1) << (random.next() % 8)
            case 1 where !bytes.isEmpty:
                bytes[position] = interesting.randomElement(using: &random)!
            case 2 where !bytes.isEmpty:
                bytes[position] = UInt8(truncatingIfNeeded: random.next())
            case 3:
                bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
            case 4 where !bytes.isEmpty:
                bytes.remove(at: position)
            case 5:
                bytes = Array(bytes.prefix(position))
            case 6 where !bytes.isEmpty:
                let end = min(bytes.count, position + 1 + Int(random.next() % 16))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            default:
                // Rewrite the header: a random opcode from the registry or outside it.
                if bytes.count > 1 { bytes[1] = MessageType.allCases.randomElement(using: &random)!.rawValue }
                if !bytes.isEmpty { bytes[0] = interesting.randomElement(using: &random)! }
            }
        }
    }

    static var seedFrames: [[UInt8]] {
        Samples.messages.map { message in
            var buffer = ByteBuffer()
            try! buffer.writeFrame(message)
            return Array(buffer.readableBytesView)
        }
    }

    @Test func mutatedFramesNeverCrash() {
        var random = SplitMix64(seed: 0xD5D_0001)
        let seeds = Self.seedFrames
        var counts: [Outcome: Int] = [:]
        for _ in 0..<100_000 {
            var bytes = seeds.randomElement(using: &random)!
            if random.next() % 4 == 0 { bytes += seeds.randomElement(using: &random)! }
            Self.mutate(&bytes, using: &random)
            for outcome in Self.decodeAll(bytes) { counts[outcome, default: 0] += 1 }
        }
        // The mutations reach every outcome, so the decoder's error paths all ran.
        for outcome in [Outcome.decoded, .incomplete, .frameTooLarge, .unknownType, .malformed, .trailingBytes] {
            #expect(counts[outcome, default: 0] > 0, "\(outcome) never happened: \(counts)")
        }
    }

    @Test func randomBytesNeverCrash() {
        var random = SplitMix64(seed: 0xD5D_0002)
        var counts: [Outcome: Int] = [:]
        for _ in 0..<100_000 {
            let count = Int(random.next() % 48)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            // Mostly plausible headers, so bodies get parsed, not just rejected by opcode.
            if count > 1 && random.next() % 4 != 0 {
                bytes[0] = UInt8(count - 2)
                bytes[1] = MessageType.allCases.randomElement(using: &random)!.rawValue
            }
            for outcome in Self.decodeAll(bytes) { counts[outcome, default: 0] += 1 }
        }
        #expect(counts[.malformed, default: 0] > 0)
        #expect(counts[.unknownType, default: 0] > 0)
    }

    /// The same damaged input through a channel: the handler surfaces only `WireError`s and
    /// yields exactly what direct decoding yields.
    @Test func channelDecodesLikeTheBuffer() throws {
        var random = SplitMix64(seed: 0xD5D_0003)
        let seeds = Self.seedFrames
        for _ in 0..<2_000 {
            var bytes = seeds.randomElement(using: &random)! + seeds.randomElement(using: &random)!
            Self.mutate(&bytes, using: &random)
            var direct: [Message] = []
            var buffer = ByteBuffer(bytes: bytes)
            var directError: WireError?
            do {
                while let message = try buffer.readFrame() { direct.append(message) }
            } catch {
                directError = error
            }

            let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
            var channelError: (any Error)?
            var input = ByteBuffer(bytes: bytes)
            while input.readableBytes > 0 && channelError == nil {
                let piece = input.readSlice(length: min(input.readableBytes, 1 + Int(random.next() % 8)))!
                do { try channel.writeInbound(piece) } catch { channelError = error }
            }
            var viaChannel: [Message] = []
            while let message = try channel.readInbound(as: Message.self) { viaChannel.append(message) }
            _ = try? channel.finish()

            #expect(viaChannel == direct)
            #expect((channelError as? WireError) == directError, "\(bytes)")
        }
    }
}
