import DSDCore
import Testing

@testable import DSDWire

@Suite struct HandshakeTests {
    static let key = try! ClusterKey(bytes: Array(repeating: 0x42, count: 32))
    static let otherKey = try! ClusterKey(bytes: Array(repeating: 0x43, count: 32))

    static func nonce(_ byte: UInt8) -> Bytes32 { Bytes32(Array(repeating: byte, count: 32))! }

    static func agent(key: ClusterKey = key, nonce: UInt8 = 1, version: UInt16 = Message.protocolVersion) -> Handshake {
        Handshake(
            side: .initiator, role: .agent, name: "host1", key: key, nonce: Self.nonce(nonce), protocolVersion: version)
    }

    static func directory(
        key: ClusterKey = key,
        nonce: UInt8 = 2,
        accepting roles: Set<Role> = [.agent, .node, .backupDirectory]
    ) -> Handshake {
        Handshake(
            side: .responder, role: .directory, name: "dir", key: key, nonce: Self.nonce(nonce),
            acceptedPeerRoles: roles)
    }

    static func sent(_ actions: [HandshakeAction]) -> [Message] {
        actions.compactMap { if case .send(let message) = $0 { message } else { nil } }
    }

    /// Runs both machines against each other, delivering messages in order, until quiet.
    static func run(_ a: inout Handshake, _ b: inout Handshake) -> (a: [HandshakeAction], b: [HandshakeAction]) {
        var logA = a.onStart()
        var logB = b.onStart()
        var toB = sent(logA)
        var toA = sent(logB)
        while !toA.isEmpty || !toB.isEmpty {
            if !toA.isEmpty {
                let actions = a.onMessage(toA.removeFirst())
                logA += actions
                toB += sent(actions)
            }
            if !toB.isEmpty {
                let actions = b.onMessage(toB.removeFirst())
                logB += actions
                toA += sent(actions)
            }
        }
        return (logA, logB)
    }

    static func failure(_ actions: [HandshakeAction]) -> ErrorCode? {
        for action in actions { if case .fail(let code, _) = action { return code } }
        return nil
    }

    @Test func bothSidesAuthenticate() {
        var agent = Self.agent()
        var directory = Self.directory()
        let (a, d) = Self.run(&agent, &directory)
        #expect(a.last == .authenticated(peerRole: .directory, peerName: "dir"))
        #expect(d.last == .authenticated(peerRole: .agent, peerName: "host1"))
        #expect(Self.sent(a).map(\.type) == [.hello, .authProof, .authOK])
        #expect(Self.sent(d).map(\.type) == [.hello, .authProof, .authOK])
        #expect(agent.isAuthenticated && directory.isAuthenticated)
        // The handshake is over: later messages are the session's.
        #expect(agent.onMessage(.ping(1)).isEmpty)
        #expect(agent.onTimeout().isEmpty)
    }

    @Test func sameRolesOnBothEndsAuthenticate() {
        // A node talking to a node: only the side distinguishes the proofs.
        var a = Handshake(side: .initiator, role: .node, name: "n", key: Self.key, nonce: Self.nonce(1))
        var b = Handshake(side: .responder, role: .node, name: "n", key: Self.key, nonce: Self.nonce(2))
        let (logA, logB) = Self.run(&a, &b)
        #expect(logA.last == .authenticated(peerRole: .node, peerName: "n"))
        #expect(logB.last == .authenticated(peerRole: .node, peerName: "n"))
    }

    @Test func wrongKeyFailsBothSides() {
        var agent = Self.agent(key: Self.otherKey)
        var directory = Self.directory()
        let (a, d) = Self.run(&agent, &directory)
        #expect(Self.failure(a) == .authFailed)
        #expect(Self.failure(d) == .authFailed)
        #expect(!a.contains { if case .authenticated = $0 { true } else { false } })
        #expect(!d.contains { if case .authenticated = $0 { true } else { false } })
        #expect(Self.sent(d).contains(.error(.authFailed, message: "authentication failed")))
    }

    @Test func wrongVersionFails() {
        var agent = Self.agent(version: Message.protocolVersion + 1)
        var directory = Self.directory()
        let (a, d) = Self.run(&agent, &directory)
        #expect(Self.failure(a) == .protocolVersion)
        #expect(Self.failure(d) == .protocolVersion)
        #expect(!Self.sent(a).contains { $0.type == .authProof })
        #expect(!Self.sent(d).contains { $0.type == .authProof })
    }

    @Test func refusedRoleFails() {
        var agent = Self.agent()
        var directory = Self.directory(accepting: [.node])
        let (a, d) = Self.run(&agent, &directory)
        #expect(Self.failure(d) == .notPermitted)
        #expect(Self.failure(a) == .notPermitted)
    }

    @Test(arguments: [
        Message.sync(from: nil),
        .change(Change(version: .zero, mutation: .dropTable(TableID(1)))),
        .request(id: 1, .createTable(name: "X")),
        .clientRequest(id: 1, .dump),
        .ping(1),
        .authOK,
        .authProof(mac: Bytes32(Array(repeating: 0, count: 32))!),
    ])
    func anythingButHelloFirstFails(message: Message) {
        var directory = Self.directory()
        _ = directory.onStart()
        let actions = directory.onMessage(message)
        #expect(Self.sent(actions).map(\.type) == [.error])
        #expect(Self.failure(actions) == .malformed)
        #expect(directory.onMessage(.hello(Hello(role: .agent, nonce: Self.nonce(9), name: "x"))).isEmpty)
    }

    @Test func messagesBeforeStartOrBetweenStepsFail() {
        var idle = Self.directory()
        #expect(
            Self.failure(idle.onMessage(.hello(Hello(role: .agent, nonce: Self.nonce(9), name: "x")))) == .malformed)

        // After hello, before the proof: a request is refused.
        var directory = Self.directory()
        _ = directory.onStart()
        _ = directory.onMessage(.hello(Hello(role: .agent, nonce: Self.nonce(1), name: "host1")))
        #expect(Self.failure(directory.onMessage(.request(id: 1, .dropTable(TableID(1))))) == .malformed)

        // After a valid proof, before authOK: a sync is refused.
        var agent = Self.agent()
        var directory2 = Self.directory()
        let agentHello = Self.sent(agent.onStart())
        let directoryOut = Self.sent(directory2.onStart()) + Self.sent(directory2.onMessage(agentHello[0]))
        _ = agent.onMessage(directoryOut[0])  // hello → sends proof
        #expect(Self.sent(agent.onMessage(directoryOut[1])) == [.authOK])  // proof verified
        #expect(Self.failure(agent.onMessage(.sync(from: nil))) == .malformed)
        #expect(!agent.isAuthenticated)
    }

    @Test func peerErrorFailsWithoutAnswering() {
        var agent = Self.agent()
        _ = agent.onStart()
        let actions = agent.onMessage(.error(.protocolVersion, message: "too new"))
        #expect(actions == [.fail(.protocolVersion, "too new")])
    }

    @Test func timeoutFails() {
        var agent = Self.agent()
        _ = agent.onStart()
        let actions = agent.onTimeout()
        #expect(Self.sent(actions).map(\.type) == [.error])
        #expect(Self.failure(actions) == .timeout)
    }

    /// A fake directory without the key echoes the agent's own proof back.
    @Test func reflectedProofFails() {
        var agent = Self.agent()
        _ = agent.onStart()
        // The attacker copies the agent's role and name to make the transcripts as alike as possible.
        let fakeHello = Hello(role: .agent, nonce: Self.nonce(7), name: "host1")
        let proof = Self.sent(agent.onMessage(.hello(fakeHello)))
        #expect(proof.map(\.type) == [.authProof])
        let actions = agent.onMessage(proof[0])
        #expect(Self.failure(actions) == .authFailed)
        #expect(!agent.isAuthenticated)
    }

    @Test func echoedNonceFails() {
        var agent = Self.agent(nonce: 5)
        _ = agent.onStart()
        let actions = agent.onMessage(.hello(Hello(role: .directory, nonce: Self.nonce(5), name: "dir")))
        #expect(Self.failure(actions) == .authFailed)
    }

    /// A recorded directory hello and proof are worthless once the agent uses a new nonce.
    @Test func replayedProofFailsWithANewNonce() {
        var agent1 = Self.agent(nonce: 1)
        var directory1 = Self.directory(nonce: 2)
        let (_, recorded) = Self.run(&agent1, &directory1)
        let directoryMessages = Self.sent(recorded)
        #expect(agent1.isAuthenticated)

        var agent2 = Self.agent(nonce: 3)
        _ = agent2.onStart()
        _ = agent2.onMessage(directoryMessages[0])  // the old hello
        let actions = agent2.onMessage(directoryMessages[1])  // the old proof
        #expect(Self.failure(actions) == .authFailed)

        // And the other way: a recorded agent hello and proof replayed to a directory.
        let (agentLog, _) = Self.run(&agent1, &directory1)
        #expect(agentLog.isEmpty)  // both machines are finished
        var replayAgent = Self.agent(nonce: 1)
        let agentMessages = Self.sent(replayAgent.onStart()) + Self.sent(replayAgent.onMessage(directoryMessages[0]))
        var directory2 = Self.directory(nonce: 4)
        _ = directory2.onStart()
        _ = directory2.onMessage(agentMessages[0])
        #expect(Self.failure(directory2.onMessage(agentMessages[1])) == .authFailed)
    }

    /// The MAC input follows the layout in Docs/wire-protocol.md byte for byte.
    @Test func proofCoversTheDocumentedTranscript() {
        var agent = Self.agent(nonce: 1)
        _ = agent.onStart()
        let directoryHello = Hello(role: .directory, nonce: Self.nonce(2), name: "dir")
        let proof = Self.sent(agent.onMessage(.hello(directoryHello)))
        var input: [UInt8] = Array("dsd-handshake-v1".utf8)
        input += [0x00, 0x03]  // protocol version 3, big-endian
        input += [0x01]  // proved by the initiator
        input += [Role.agent.rawValue] + Array(repeating: 1, count: 32) + [5] + Array("host1".utf8)
        input += [Role.directory.rawValue] + Array(repeating: 2, count: 32) + [3] + Array("dir".utf8)
        #expect(proof == [.authProof(mac: Self.key.authenticationCode(for: input))])
    }
}
