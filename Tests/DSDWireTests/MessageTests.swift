import DSDCore
import NIOCore
import Testing

@testable import DSDWire

@Suite struct MessageTests {
    @Test func samplesCoverEveryOpcode() {
        let seen = Set(Samples.messages.map(\.type))
        #expect(seen == Set(MessageType.allCases))
    }

    @Test(arguments: Samples.messages)
    func roundTrips(_ message: Message) throws {
        var buffer = ByteBuffer()
        let written = try buffer.writeFrame(message)
        #expect(written == buffer.readableBytes)
        #expect(try buffer.readFrame() == message)
        #expect(buffer.readableBytes == 0)
    }

    @Test func largestChunkFitsOneFrame() throws {
        var buffer = ByteBuffer()
        let written = try buffer.writeFrame(Samples.largestChunk)
        #expect(written <= WireLimits.maxFrameBytes)
        #expect(try buffer.readFrame() == Samples.largestChunk)
    }

    @Test func opcodesAreFixed() {
        // Opcodes are append-only: changing one breaks every deployed peer.
        let expected: [MessageType: UInt8] = [
            .hello: 1, .authProof: 2, .authOK: 3, .error: 4,
            .sync: 16, .change: 17, .snapshotBegin: 18, .snapshotTable: 19, .snapshotEnd: 20,
            .ping: 21, .pong: 22, .announce: 23, .lease: 24, .unlease: 25, .request: 32, .response: 33,
            .clientRequest: 48, .clientReply: 49,
        ]
        #expect(Dictionary(uniqueKeysWithValues: MessageType.allCases.map { ($0, $0.rawValue) }) == expected)
    }

    @Test func errorCodesAreFixed() {
        #expect(ErrorCode.allCases.map(\.rawValue) == Array(1...21))
        #expect(ErrorCode.authFailed.rawValue == 2)
        #expect(ErrorCode.resync.rawValue == 19)
        #expect(ErrorCode.notEmpty.rawValue == 20)
        #expect(ErrorCode.invalidBatch.rawValue == 21)
    }

    @Test func chunksSplitLargeTables() {
        let entries = (0..<1100).map { Entry(key: "k\($0)", value: "v") }
        let chunks = SnapshotChunk.chunks(id: TableID(9), name: "T", entries: entries)
        #expect(chunks.map(\.entries.count) == [512, 512, 76])
        #expect(chunks.flatMap(\.entries) == entries)
        #expect(SnapshotChunk.chunks(id: TableID(9), name: "T", entries: []).map(\.entries) == [[]])
    }

    @Test func overLongFieldsAreRefusedOnEncode() {
        let refused: [Message] = [
            .change(Change(version: .zero, mutation: .put(TableID(1), Entry(key: Samples.longKey + "k", value: "")))),
            .change(Change(version: .zero, mutation: .put(TableID(1), Entry(key: "", value: Samples.longValue + "v")))),
            .snapshotTable(SnapshotChunk(id: TableID(1), name: Samples.longTable + "T", entries: [])),
            .snapshotTable(
                SnapshotChunk(
                    id: TableID(1), name: "T",
                    entries: Array(repeating: Samples.entry, count: WireLimits.maxEntriesPerFrame + 1))),
            .snapshotBegin(version: .zero, tableCount: UInt32(WireLimits.maxTables) + 1),
            .hello(
                Hello(
                    role: .agent, nonce: Samples.nonce,
                    name: String(repeating: "h", count: WireLimits.maxHostNameBytes + 1))),
            .clientReply(
                id: 1,
                .status(Array(repeating: StatusField(name: "a", value: "b"), count: WireLimits.maxStatusFields + 1))),
            .clientReply(id: 1, .route(String(repeating: "r", count: WireLimits.maxRouteBytes + 1))),
        ]
        for message in refused {
            var buffer = ByteBuffer(bytes: [7, 7])
            #expect(throws: WireError.self) { try buffer.writeFrame(message) }
            #expect(buffer.readableBytesView.elementsEqual([7, 7]), "a refused frame leaves no bytes behind")
        }
    }

    @Test func overLongErrorTextIsTruncatedNotRefused() throws {
        let text = String(repeating: "é", count: WireLimits.maxMessageBytes)  // 2 bytes each
        var buffer = ByteBuffer()
        try buffer.writeFrame(.error(.internal, message: text))
        guard case .error(.internal, let received) = try buffer.readFrame() else {
            Issue.record("expected an error frame")
            return
        }
        #expect(received.utf8.count == WireLimits.maxMessageBytes)
        #expect(text.hasPrefix(received))
    }
}
