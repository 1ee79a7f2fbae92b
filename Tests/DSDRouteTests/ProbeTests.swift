import DSDCore
import NIOCore
import Testing

@testable import DSDWire

@Suite struct ProbeTests {
    static let key = try! ClusterKey(bytes: Array(repeating: 0x42, count: 32))
    static let otherKey = try! ClusterKey(bytes: Array(repeating: 0x43, count: 32))

    static let request = Probe(
        kind: .request, host: "HOST1", routeIndex: 1, sequence: 0x0102_0304_0506_0708, session: 0xAABB_CCDD_EEFF_0011,
        timestamp: 123_456_789)

    static func bytes(_ probe: Probe, key: ClusterKey = key) throws -> [UInt8] {
        Array(try probe.encoded(key: key).readableBytesView)
    }

    static func decode(_ bytes: [UInt8], key: ClusterKey = key) -> Result<Probe, ProbeError> {
        Result { () throws(ProbeError) -> Probe in try Probe(decoding: ByteBuffer(bytes: bytes), key: key) }
    }

    @Test func roundTripsRequestAndReply() throws {
        let request = Self.request
        #expect(Self.decode(try Self.bytes(request)) == .success(request))
        let reply = request.reply
        #expect(reply.kind == .reply)
        #expect(reply.host == request.host && reply.sequence == request.sequence && reply.session == request.session)
        #expect(Self.decode(try Self.bytes(reply)) == .success(reply))
    }

    @Test func layoutIsAsDocumented() throws {
        let bytes = try Self.bytes(Self.request)
        #expect(bytes.count == 4 + 1 + 1 + 1 + 5 + 4 + 8 + 8 + 8 + 32)
        #expect(Array(bytes[0..<4]) == Array("DSDP".utf8))
        #expect(bytes[4] == 1)  // version
        #expect(bytes[5] == 1)  // request
        #expect(bytes[6] == 5)  // host name length
        #expect(Array(bytes[7..<12]) == Array("HOST1".utf8))
        #expect(Array(bytes[12..<16]) == [0, 0, 0, 1])  // route index
        #expect(Array(bytes[16..<24]) == [1, 2, 3, 4, 5, 6, 7, 8])  // sequence
        // The MAC covers the domain label and everything before it.
        let mac = Bytes32(bytes[(bytes.count - 32)...])!
        #expect(Self.key.isValid(mac, for: Array("dsd-route-probe-v1".utf8) + bytes[..<(bytes.count - 32)]))
        #expect(!Self.key.isValid(mac, for: Array(bytes[..<(bytes.count - 32)])))
        #expect(Probe.maxBytes == 67 + Probe.maxHostBytes)
    }

    @Test func aProbeMadeWithAnotherKeyIsRejected() throws {
        #expect(Self.decode(try Self.bytes(Self.request, key: Self.otherKey)) == .failure(.authenticationFailed))
    }

    @Test func aRequestRelabelledAsReplyIsRejected() throws {
        var bytes = try Self.bytes(Self.request)
        bytes[5] = Probe.Kind.reply.rawValue
        #expect(Self.decode(bytes) == .failure(.authenticationFailed))
    }

    @Test func everySingleBitFlipIsRejected() throws {
        let bytes = try Self.bytes(Self.request)
        for index in bytes.indices {
            for bit in 0..<8 {
                var forged = bytes
                forged[index] ^= UInt8(1) << UInt8(bit)
                guard case .failure = Self.decode(forged) else {
                    Issue.record("flip of bit \(bit) of byte \(index) was accepted")
                    return
                }
            }
        }
    }

    @Test func truncatedOrPaddedDatagramsAreRejected() throws {
        let bytes = try Self.bytes(Self.request)
        for length in 0..<bytes.count {
            #expect(throws: ProbeError.self) { try Probe(decoding: ByteBuffer(bytes: bytes[..<length]), key: Self.key) }
        }
        #expect(Self.decode(bytes + [0]) == .failure(.trailingBytes(1)))
    }

    @Test func structuralErrorsAreNamed() throws {
        var bytes = try Self.bytes(Self.request)
        bytes[0] = UInt8(ascii: "X")
        #expect(Self.decode(bytes) == .failure(.badMagic))
        bytes = try Self.bytes(Self.request)
        bytes[4] = 9
        #expect(Self.decode(bytes) == .failure(.unsupportedVersion(9)))
        bytes = try Self.bytes(Self.request)
        bytes[5] = 3
        #expect(Self.decode(bytes) == .failure(.unknownKind(3)))
        bytes = try Self.bytes(Self.request)
        bytes[6] = 0
        #expect(Self.decode(bytes) == .failure(.badHostName))
        bytes = try Self.bytes(Self.request)
        bytes[7] = 0xFF  // not UTF-8
        #expect(Self.decode(bytes) == .failure(.badHostName))
    }

    @Test func hostNamesMustFit() {
        var probe = Self.request
        probe.host = ""
        #expect(throws: ProbeError.badHostName) { try probe.encoded(key: Self.key) }
        probe.host = String(repeating: "h", count: Probe.maxHostBytes + 1)
        #expect(throws: ProbeError.badHostName) { try probe.encoded(key: Self.key) }
        probe.host = String(repeating: "h", count: Probe.maxHostBytes)
        #expect(Self.decode(try! Self.bytes(probe)) == .success(probe))
    }

    @Test func garbageNeverDecodes() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let length = Int.random(in: 0..<Probe.maxBytes + 8, using: &rng)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if bytes.count >= 4, Bool.random(using: &rng) { bytes.replaceSubrange(0..<4, with: Probe.magic) }
            guard case .failure = Self.decode(bytes) else {
                Issue.record("random datagram accepted: \(bytes)")
                return
            }
        }
    }

    // MARK: Replays

    @Test func replayGuardAnswersOnlyFreshSequenceNumbers() {
        var guardian = ProbeReplayGuard()
        var probe = Self.request
        var admitted: [Bool] = []
        probe.sequence = 5
        admitted.append(guardian.admit(probe))
        admitted.append(guardian.admit(probe))  // the same datagram again
        probe.sequence = 4
        admitted.append(guardian.admit(probe))  // older
        probe.sequence = 6
        admitted.append(guardian.admit(probe))
        // Another route or another directory session has its own window.
        probe.sequence = 1
        probe.routeIndex = 0
        admitted.append(guardian.admit(probe))
        probe.session = 1
        admitted.append(guardian.admit(probe))
        #expect(admitted == [true, false, false, true, true, true])
    }

    @Test func replayGuardForgetsTheLeastRecentlyUsedSession() {
        var guardian = ProbeReplayGuard(capacity: 2)
        var probe = Self.request
        var admitted: [Bool] = []
        for session: UInt64 in [1, 2] {
            probe.session = session
            probe.sequence = 10
            admitted.append(guardian.admit(probe))
        }
        probe.session = 1
        probe.sequence = 11
        admitted.append(guardian.admit(probe))  // session 1 is now the most recent
        probe.session = 3
        admitted.append(guardian.admit(probe))  // evicts session 2
        probe.session = 1
        probe.sequence = 11
        admitted.append(guardian.admit(probe))  // session 1 still remembered: a replay
        probe.session = 2
        probe.sequence = 10
        admitted.append(guardian.admit(probe))  // session 2 was forgotten
        #expect(admitted == [true, true, true, true, false, true])
    }

    /// The directory's view: an invalid route must not become valid from a forged reply or
    /// from replies replayed after their probe was answered.
    @Test func forgedOrReplayedRepliesCannotRevive() throws {
        let route = RouteLiveness.RouteID(host: "HOST1", index: 1)
        var machine = RouteLiveness(settings: .default)
        machine.onRoutesAnnounced(host: "HOST1", [1: .invalid], now: .zero)
        let session: UInt64 = 77
        /// What the prober does with a datagram: authenticate, check kind and session, feed.
        func receive(_ bytes: [UInt8], at now: Instant) -> [RouteLiveness.Directive] {
            guard case .success(let probe) = Self.decode(bytes), probe.kind == .reply, probe.session == session else {
                return []
            }
            return machine.onReply(
                RouteLiveness.RouteID(host: probe.host, index: probe.routeIndex), seq: probe.sequence, now: now)
        }
        let request = Probe(kind: .request, host: "HOST1", routeIndex: 1, sequence: 1, session: session, timestamp: 0)
        machine.onProbeSent(route, seq: 1, now: .zero)
        let genuine = try Self.bytes(request.reply)
        #expect(receive(genuine, at: .zero + .milliseconds(1)).isEmpty)
        // Replays of the answered probe, a reflected request, a forged reply and a reply of
        // another session, for probes 2 and 3: nothing counts.
        for seq: UInt64 in [2, 3] {
            let now = Instant.zero + .milliseconds(Int64(seq) * 100)
            #expect(machine.onTick(now: now).isEmpty)
            machine.onProbeSent(route, seq: seq, now: now)
            var probe = request
            probe.sequence = seq
            #expect(receive(genuine, at: now + .milliseconds(1)).isEmpty)
            #expect(receive(try Self.bytes(probe), at: now + .milliseconds(1)).isEmpty)
            #expect(receive(try Self.bytes(probe.reply, key: Self.otherKey), at: now + .milliseconds(1)).isEmpty)
            var foreign = probe.reply
            foreign.session = session + 1
            #expect(receive(try Self.bytes(foreign), at: now + .milliseconds(1)).isEmpty)
        }
        #expect(machine.health(of: route) == .invalid)
        #expect(machine.counters(of: route)?.answers == 0)
    }
}
