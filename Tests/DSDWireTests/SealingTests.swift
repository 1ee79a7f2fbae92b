import Crypto
import DSDCore
import NIOCore
import NIOEmbedded
import Testing

@testable import DSDWire

/// The sealed session: key agreement in the handshake, the record cipher, and both ends of a
/// real byte pipeline.
@Suite struct SealingTests {
    static func keys(_ actions: [HandshakeAction]) -> (seal: SessionKeys?, open: SessionKeys?) {
        var seal: SessionKeys?
        var open: SessionKeys?
        for action in actions {
            if case .sealOutbound(let keys) = action { seal = keys }
            if case .openInbound(let keys) = action { open = keys }
        }
        return (seal, open)
    }

    @Test func handshakeAgreesOnOneKeyPerDirection() throws {
        var agent = HandshakeTests.agent()
        var directory = HandshakeTests.directory()
        let (a, d) = HandshakeTests.run(&agent, &directory)
        let agentKeys = try #require(Self.keys(a).seal)
        let directoryKeys = try #require(Self.keys(d).seal)
        #expect(Self.keys(a).open == agentKeys && Self.keys(d).open == directoryKeys)
        #expect(agentKeys.outbound == directoryKeys.inbound)
        #expect(agentKeys.inbound == directoryKeys.outbound)
        #expect(agentKeys.outbound != agentKeys.inbound, "the two directions never share a key")

        // Sealing starts right after our authOK; opening right before `authenticated`.
        let sealAt = try #require(a.firstIndex { if case .sealOutbound = $0 { true } else { false } })
        #expect(a[sealAt - 1] == .send(.authOK))
        let openAt = try #require(a.firstIndex { if case .openInbound = $0 { true } else { false } })
        #expect(a[openAt + 1] == .authenticated(peerRole: .directory, peerName: "dir"))

        // Another connection (other nonce) gets other keys.
        var agent2 = HandshakeTests.agent(nonce: 3)
        var directory2 = HandshakeTests.directory()
        let (a2, _) = HandshakeTests.run(&agent2, &directory2)
        #expect(try #require(Self.keys(a2).seal).outbound != agentKeys.outbound)
    }

    /// The keys follow the derivation in Docs/wire-protocol.md byte for byte.
    @Test func keysFollowTheDocumentedDerivation() throws {
        var agent = HandshakeTests.agent(nonce: 1)
        var directory = HandshakeTests.directory(nonce: 2)
        let (a, _) = HandshakeTests.run(&agent, &directory)
        let keys = try #require(Self.keys(a).seal)
        var transcript: [UInt8] = Array("dsd-seal-v1 ".utf8)
        transcript += [0x00, 0x03, Role.agent.rawValue] + Array(repeating: 1, count: 32) + [5] + Array("host1".utf8)
        transcript += [0x00, 0x03, Role.directory.rawValue] + Array(repeating: 2, count: 32) + [3] + Array("dir".utf8)
        let salt = Array(SHA256.hash(data: transcript))
        let clusterKey = SymmetricKey(data: Array(repeating: UInt8(0x42), count: 32))
        func derive(_ info: String) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: clusterKey, salt: salt, info: Array(info.utf8), outputByteCount: 32)
        }
        #expect(keys.outbound == derive("dsd-seal-v1 initiator"))
        #expect(keys.inbound == derive("dsd-seal-v1 responder"))
    }

    static let key = SymmetricKey(data: Array(repeating: UInt8(7), count: 32))

    static func records(_ payloads: [String], recordsPerKey: UInt64 = RecordCipher.defaultRecordsPerKey) -> [[UInt8]] {
        var cipher = RecordCipher(key: key, recordsPerKey: recordsPerKey)
        return payloads.map { payload in
            var out = ByteBuffer()
            cipher.seal(ByteBuffer(string: payload).readableBytesView, into: &out)
            return Array(out.readableBytesView)
        }
    }

    /// Opens `records` in order with a fresh receiver; the plaintexts, or the error.
    static func open(
        _ records: [[UInt8]], recordsPerKey: UInt64 = RecordCipher.defaultRecordsPerKey
    ) -> Result<[String], WireError> {
        var cipher = RecordCipher(key: key, recordsPerKey: recordsPerKey)
        var opened: [String] = []
        for record in records {
            var buffer = ByteBuffer(bytes: record)
            var plaintext = ByteBuffer()
            do throws(WireError) {
                guard try cipher.open(&buffer, into: &plaintext) else { return .failure(.malformed("incomplete")) }
            } catch {
                return .failure(error)
            }
            opened.append(String(buffer: plaintext))
        }
        return .success(opened)
    }

    @Test func recordsOpenInOrderAndHideTheirContents() throws {
        let sealed = Self.records(["MDS.1 HOST9:1872", "second", ""])
        #expect(Self.open(sealed) == .success(["MDS.1 HOST9:1872", "second", ""]))
        #expect(sealed[0].count == 1 + 16 + RecordCipher.tagBytes, "length prefix + ciphertext + tag")
        #expect(!sealed[0].contains(subsequence: Array("HOST9".utf8)))
        // The same plaintext sealed twice (counters 0 and 1) differs.
        let twice = Self.records(["same", "same"])
        #expect(twice[0] != twice[1])
    }

    @Test func alteredReplayedOrReorderedRecordsDoNotOpen() throws {
        let sealed = Self.records(["first", "second", "third"])
        for index in 0..<sealed[1].count {
            var altered = sealed
            altered[1][index] ^= 0x01
            let outcome = Self.open(altered)
            if index == 0 {
                // The length prefix changed: the record is short or its tag misplaced.
                #expect(outcome != .success(["first", "second", "third"]))
            } else {
                #expect(outcome == .failure(.unsealFailed), "bit flipped at byte \(index)")
            }
        }
        #expect(Self.open([sealed[0], sealed[0]]) == .failure(.unsealFailed), "a replay does not open")
        #expect(Self.open([sealed[1], sealed[0]]) == .failure(.unsealFailed), "a reorder does not open")
        #expect(Self.open([sealed[0], sealed[2]]) == .failure(.unsealFailed), "a dropped record is noticed")
    }

    @Test func incompleteRecordWaitsAndOversizeRecordIsRefused() throws {
        let sealed = Self.records(["a longer payload"])[0]
        var cipher = RecordCipher(key: Self.key)
        var partial = ByteBuffer(bytes: sealed.dropLast())
        var plaintext = ByteBuffer()
        #expect(try cipher.open(&partial, into: &plaintext) == false)
        #expect(partial.readableBytes == sealed.count - 1, "nothing consumed")
        var whole = ByteBuffer(bytes: sealed)
        #expect(try cipher.open(&whole, into: &plaintext))
        #expect(String(buffer: plaintext) == "a longer payload")

        var huge = ByteBuffer()
        huge.writeVarint(UInt64(WireLimits.maxRecordBytes + 1))
        #expect(throws: WireError.frameTooLarge(WireLimits.maxRecordBytes + 1)) {
            try cipher.open(&huge, into: &plaintext)
        }
    }

    @Test func bothEndsRekeyInStep() throws {
        let payloads = (0..<10).map { "record \($0)" }
        let sealed = Self.records(payloads, recordsPerKey: 3)
        #expect(Self.open(sealed, recordsPerKey: 3) == .success(payloads))
        // A receiver that does not rekey fails at the first record under the new key.
        let stale = Self.open(sealed, recordsPerKey: 100)
        #expect(stale == .failure(.unsealFailed))
        #expect(Self.open(Array(sealed.prefix(3)), recordsPerKey: 100) == .success(Array(payloads.prefix(3))))
        var cipher = RecordCipher(key: Self.key, recordsPerKey: 3)
        var out = ByteBuffer()
        for _ in 0..<7 { cipher.seal(ByteBuffer(string: "x").readableBytesView, into: &out) }
        #expect(cipher.generation == 2)
    }

    // MARK: Both ends of a byte pipeline

    struct End {
        let channel: EmbeddedChannel
        let recorder: Recorder
    }

    static func end(_ handshake: Handshake) throws -> End {
        let channel = EmbeddedChannel()
        let recorder = Recorder()
        let seal = SessionSeal()
        let limit = FrameLimit()
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(FrameDecoder(limit: limit, seal: seal)),
            RecordSealer(seal: seal),
            MessageToByteHandler(FrameEncoder()),
            HandshakeHandler(handshake: handshake, settings: .testing, frameLimit: limit, seal: seal),
            recorder,
        ])
        try channel.connect(to: HandshakeHandlerTests.address).wait()
        return End(channel: channel, recorder: recorder)
    }

    /// Moves bytes both ways until quiet; returns what went from `a` to `b`, in writes.
    @discardableResult
    static func shuttle(_ a: End, _ b: End, tamper: ([UInt8]) -> [UInt8] = { $0 }) throws -> [[UInt8]] {
        var fromA: [[UInt8]] = []
        var moved = true
        while moved {
            moved = false
            while let bytes = try a.channel.readOutbound(as: ByteBuffer.self) {
                let sent = tamper(Array(bytes.readableBytesView))
                fromA.append(sent)
                if b.channel.isActive { _ = try? b.channel.writeInbound(ByteBuffer(bytes: sent)) }
                moved = true
            }
            while let bytes = try b.channel.readOutbound(as: ByteBuffer.self) {
                if a.channel.isActive { _ = try? a.channel.writeInbound(bytes) }
                moved = true
            }
        }
        return fromA
    }

    static let secret = Change(
        version: Version(epoch: 1, index: 9),
        mutation: .put(TableID(2), Entry(key: "MDS.1.1", value: "SECRET-ROUTE:1872")))

    @Test func sessionFramesTravelSealed() throws {
        let agent = try Self.end(HandshakeTests.agent())
        let directory = try Self.end(HandshakeTests.directory())
        let early = agent.channel.writeAndFlush(Message.sync(from: nil))
        try Self.shuttle(agent, directory)
        #expect(agent.recorder.completed.count == 1 && directory.recorder.completed.count == 1)
        #expect(try early.wait() == ())
        #expect(directory.recorder.messages == [.sync(from: nil)])

        // Two frames written before one flush share one record.
        directory.channel.write(Message.change(Self.secret), promise: nil)
        directory.channel.write(Message.ping(7), promise: nil)
        directory.channel.flush()
        let wire = try Self.shuttle(directory, agent)
        #expect(agent.recorder.messages == [.change(Self.secret), .ping(7)])
        #expect(wire.count == 1, "one record per flush")
        #expect(!Array(wire.joined()).contains(subsequence: Array("SECRET-ROUTE".utf8)))
        #expect(!Array(wire.joined()).contains(subsequence: Array("MDS.1.1".utf8)))
        #expect(agent.channel.isActive && directory.channel.isActive)
    }

    @Test func aFlippedBitClosesTheSessionAndDeliversNothing() throws {
        let agent = try Self.end(HandshakeTests.agent())
        let directory = try Self.end(HandshakeTests.directory())
        try Self.shuttle(agent, directory)
        #expect(directory.recorder.completed.count == 1)
        try agent.channel.writeAndFlush(Message.request(id: 1, .put(TableID(2), Self.secret.entry!))).wait()
        try Self.shuttle(agent, directory) { bytes in
            var bytes = bytes
            bytes[bytes.count / 2] ^= 0x10
            return bytes
        }
        #expect(directory.recorder.messages.isEmpty, "nothing from a record that does not open")
        #expect(directory.recorder.errors.contains { ($0 as? WireError) == .unsealFailed })
        #expect(!directory.channel.isActive)
    }
}

extension Change {
    /// The entry a put carries.
    fileprivate var entry: Entry? {
        if case .put(_, let entry) = mutation { return entry }
        return nil
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return false }
        return (0...(count - needle.count)).contains { start in
            self[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}
