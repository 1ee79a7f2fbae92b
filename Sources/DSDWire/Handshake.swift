import NIOCore

/// The authentication handshake as a pure state machine; the connection handler only carries
/// out its actions.
///
/// Both sides send `hello` as soon as the connection is up (fresh nonce, role, host name,
/// protocol version). On the peer's `hello` each side checks the version and role and sends
/// `authProof`: HMAC-SHA256 under the cluster key over a transcript that starts with which side
/// proves (initiator or responder), then the prover's role, nonce and name, then the
/// verifier's (`macInput`). On the peer's proof each side verifies in constant time and sends
/// `authOK`; on the peer's `authOK` it is authenticated. Anything else before that, a version
/// mismatch or a wrong proof sends `error` and fails; the driver then closes.
///
/// Each side seals what it sends after its `authOK`, and opens what it receives after the
/// peer's `authOK`, under per-direction keys from the cluster key and both hellos
/// (`SessionKeys`, `RecordCipher`): the session's frames are confidential, and a frame that is
/// injected, altered, replayed or reordered does not open.
///
/// Because each side's proof covers its own fresh nonce, an old proof is worthless in a new
/// connection; because the proof starts with the prover's side and orders the nonces
/// prover-first, a proof echoed back by the peer never verifies.
public struct Handshake: Sendable {
    /// Which end of the connection this is: the side that connected, or the side that accepted.
    public enum Side: UInt8, Sendable {
        case initiator = 1
        case responder = 2

        var peer: Side { self == .initiator ? .responder : .initiator }
    }

    enum State: Sendable {
        case idle
        case awaitingHello
        case awaitingProof(peer: Hello)
        case awaitingOK(peer: Hello)
        case authenticated(peer: Hello)
        case failed
    }

    /// Domain separation for the MAC input, so the key's codes mean nothing elsewhere.
    static let label: [UInt8] = Array("dsd-handshake-v1".utf8)

    let side: Side
    let own: Hello
    let key: ClusterKey
    let acceptedPeerRoles: Set<Role>
    private(set) var state: State = .idle

    /// - Parameters:
    ///   - nonce: fresh random bytes for this connection only (see `Bytes32.random()`).
    ///   - acceptedPeerRoles: roles that may connect; any other is refused with `.notPermitted`.
    public init(
        side: Side,
        role: Role,
        name: String,
        key: ClusterKey,
        nonce: Bytes32,
        acceptedPeerRoles: Set<Role> = Set(Role.allCases),
        protocolVersion: UInt16 = Message.protocolVersion
    ) {
        self.side = side
        self.own = Hello(protocolVersion: protocolVersion, role: role, nonce: nonce, name: name)
        self.key = key
        self.acceptedPeerRoles = acceptedPeerRoles
    }

    /// A handshake with a nonce from the system's secure random number generator.
    public init(
        side: Side,
        role: Role,
        name: String,
        key: ClusterKey,
        acceptedPeerRoles: Set<Role> = Set(Role.allCases)
    ) {
        self.init(
            side: side, role: role, name: name, key: key, nonce: .random(), acceptedPeerRoles: acceptedPeerRoles)
    }

    /// True once the peer is authenticated.
    public var isAuthenticated: Bool {
        if case .authenticated = state { return true }
        return false
    }

    /// The connection is up: send our hello.
    public mutating func onStart() -> [HandshakeAction] {
        guard case .idle = state else { return [] }
        state = .awaitingHello
        return [.send(.hello(own))]
    }

    /// A message arrived before authentication completed.
    ///
    /// After `.authenticated` the handshake is over and returns no actions: later messages
    /// belong to the session. After `.fail` it returns none either.
    public mutating func onMessage(_ message: Message) -> [HandshakeAction] {
        switch (state, message) {
        case (.authenticated, _), (.failed, _):
            return []
        case (.idle, _):
            return fail(.malformed, "message before the handshake started")
        case (_, .error(let code, let text)):
            state = .failed
            return [.fail(code, text)]
        case (.awaitingHello, .hello(let peer)):
            return onHello(peer)
        case (.awaitingProof(let peer), .authProof(let mac)):
            guard key.isValid(mac, for: Self.macInput(side: side.peer, prover: peer, verifier: own)) else {
                return fail(.authFailed, "authentication failed")
            }
            state = .awaitingOK(peer: peer)
            return [.send(.authOK), .sealOutbound(sessionKeys(peer: peer))]
        case (.awaitingOK(let peer), .authOK):
            state = .authenticated(peer: peer)
            return [.openInbound(sessionKeys(peer: peer)), .authenticated(peerRole: peer.role, peerName: peer.name)]
        case (.awaitingHello, _), (.awaitingProof, _), (.awaitingOK, _):
            return fail(.malformed, "unexpected \(message.type) during the handshake")
        }
    }

    /// The driver's handshake deadline passed.
    public mutating func onTimeout() -> [HandshakeAction] {
        switch state {
        case .authenticated, .failed: []
        case .idle, .awaitingHello, .awaitingProof, .awaitingOK: fail(.timeout, "handshake timed out")
        }
    }

    private mutating func onHello(_ peer: Hello) -> [HandshakeAction] {
        guard peer.protocolVersion == own.protocolVersion else {
            return fail(.protocolVersion, "protocol version \(peer.protocolVersion), expected \(own.protocolVersion)")
        }
        guard acceptedPeerRoles.contains(peer.role) else {
            return fail(.notPermitted, "role \(peer.role) not accepted here")
        }
        guard peer.nonce != own.nonce else {
            return fail(.authFailed, "peer repeated our nonce")
        }
        state = .awaitingProof(peer: peer)
        let mac = key.authenticationCode(for: Self.macInput(side: side, prover: own, verifier: peer))
        return [.send(.authProof(mac: mac))]
    }

    private func sessionKeys(peer: Hello) -> SessionKeys {
        SessionKeys(clusterKey: key, side: side, own: own, peer: peer)
    }

    private mutating func fail(_ code: ErrorCode, _ text: String) -> [HandshakeAction] {
        state = .failed
        return [.send(.error(code, message: text)), .fail(code, text)]
    }

    /// The bytes a prover authenticates:
    /// `label ‖ version ‖ side ‖ prover(role ‖ nonce ‖ name) ‖ verifier(role ‖ nonce ‖ name)`,
    /// version as big-endian UInt16, names as varint length + UTF-8.
    static func macInput(side: Side, prover: Hello, verifier: Hello) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeBytes(label)
        buffer.writeInteger(prover.protocolVersion)
        buffer.writeInteger(side.rawValue)
        for hello in [prover, verifier] {
            buffer.writeInteger(hello.role.rawValue)
            buffer.writeBytes32(hello.nonce)
            buffer.writeVarint(UInt64(hello.name.utf8.count))
            buffer.writeString(hello.name)
        }
        return Array(buffer.readableBytesView)
    }
}

/// What the driver does for the handshake.
public enum HandshakeAction: Hashable, Sendable {
    case send(Message)
    /// Seal every byte sent from now on (the `authOK` just sent was the last clear frame).
    case sealOutbound(SessionKeys)
    /// Every byte received from now on is sealed (the peer's `authOK` was its last clear frame).
    case openInbound(SessionKeys)
    /// The peer proved it holds the cluster key, and accepted our proof.
    case authenticated(peerRole: Role, peerName: String)
    /// Close the connection (after sending any `send` that precedes this action).
    case fail(ErrorCode, String)
}
