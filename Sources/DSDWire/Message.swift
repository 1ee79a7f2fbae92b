// DSDWire: the binary protocol between dsd's directory, nodes, agents and local clients.
//
// - Framing (`ByteBuffer+Frame.swift`): `[body length: varint][type: u8][body]`. The reader
//   returns nil and rewinds while a frame is incomplete, and throws as soon as the header
//   shows a frame can never be valid (over `WireLimits.maxFrameBytes`, unknown opcode).
// - Messages (`Message`, `ByteBuffer+Message.swift`, `ByteBuffer+Client.swift`): one enum;
//   each body is a fixed sequence of fields (`ByteBuffer+Wire.swift`): minimal LEB128 varints,
//   length-prefixed UTF-8 strings, 0/1 bools. Every length is checked against a named limit
//   before anything is allocated, and every message has exactly one encoding.
// - Authentication (`Handshake`): a pure state machine. Both sides send hello with a fresh
//   nonce, then an HMAC-SHA256 proof under the cluster key over both hellos and the prover's
//   side; nothing else is accepted until both proofs are verified.
// - NIO glue: `FrameDecoder`, `FrameEncoder`, and `HandshakeHandler`, which only carries out
//   the machine's actions.
//
// The byte-level description with diagrams is `Docs/wire-protocol.md`.

import DSDCore

/// Every message of the dsd protocol.
///
/// One frame carries one message (see `Docs/wire-protocol.md`). The directory, agents, middle
/// nodes and the backup directory speak the handshake, replication and request messages; local
/// command-line clients speak the `clientRequest`/`clientReply` pair to their agent over a Unix
/// socket with the same framing. Opcodes live in `MessageType` and are append-only.
public enum Message: Hashable, Sendable {
    // MARK: Handshake (opcodes 1–15)

    /// First frame from each side: protocol version, role, fresh nonce, host name.
    case hello(Hello)
    /// Proof that the sender holds the cluster key (see `HandshakeMAC`).
    case authProof(mac: Bytes32)
    /// The receiver accepted the peer's proof.
    case authOK
    /// A failure report; after a handshake or framing error the sender closes the connection.
    case error(ErrorCode, message: String)

    // MARK: Replication (opcodes 16–31)

    /// Agent → directory: stream changes after `from`; `nil` asks for a snapshot first.
    case sync(from: Version?)
    /// Directory → agent: one committed change.
    case change(Change)
    /// Directory → agent: a snapshot of `tableCount` tables at `version` follows.
    case snapshotBegin(version: Version, tableCount: UInt32)
    /// One chunk of one table of a snapshot; a table may span several chunks.
    case snapshotTable(SnapshotChunk)
    /// The snapshot is complete; changes after `version` follow.
    case snapshotEnd(version: Version)
    /// Liveness probe; answered by `pong` with the same value.
    case ping(UInt64)
    /// Answer to `ping`.
    case pong(UInt64)
    /// Agent → directory, right after authentication: this agent process (its boot id tells a
    /// restart from a reconnect) and the routes of its host that the directory may probe.
    case announce(Announce)
    /// Agent → directory: this agent keeps heartbeats of the entry (FIG. 5C); if the agent is
    /// lost, the directory marks the entry invalid.
    case lease(table: TableID, key: String, timeMaxMillis: UInt64)
    /// Agent → directory: the agent no longer keeps heartbeats of the entry.
    case unlease(table: TableID, key: String)

    // MARK: Requests to the directory (opcodes 32–47)

    /// Agent or node → directory: a write, correlated by `id`.
    case request(id: UInt64, DirectoryRequest)
    /// Directory → agent or node: the outcome of request `id`.
    case response(id: UInt64, RequestResult)

    // MARK: Local clients (opcodes 48–63)

    /// Command-line client → agent; tables are named, not numbered.
    case clientRequest(id: UInt64, ClientRequest)
    /// Agent → client; several replies may answer one request (chunked lists, watch events).
    case clientReply(id: UInt64, ClientReply)

    /// The protocol version this build speaks; peers must match exactly.
    /// 2: sealed sessions, `dropEmptyTable`. 3: batches.
    public static let protocolVersion: UInt16 = 3

    /// The opcode of this message.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .authProof: .authProof
        case .authOK: .authOK
        case .error: .error
        case .sync: .sync
        case .change: .change
        case .snapshotBegin: .snapshotBegin
        case .snapshotTable: .snapshotTable
        case .snapshotEnd: .snapshotEnd
        case .ping: .ping
        case .pong: .pong
        case .announce: .announce
        case .lease: .lease
        case .unlease: .unlease
        case .request: .request
        case .response: .response
        case .clientRequest: .clientRequest
        case .clientReply: .clientReply
        }
    }
}

/// The opcode byte of each message. Values are fixed forever: new messages get new values,
/// retired values are never reused.
public enum MessageType: UInt8, CaseIterable, Sendable {
    case hello = 1
    case authProof = 2
    case authOK = 3
    case error = 4
    case sync = 16
    case change = 17
    case snapshotBegin = 18
    case snapshotTable = 19
    case snapshotEnd = 20
    case ping = 21
    case pong = 22
    case announce = 23
    case lease = 24
    case unlease = 25
    case request = 32
    case response = 33
    case clientRequest = 48
    case clientReply = 49
}

/// What a peer is. Sent in `hello` and bound into the authentication code.
public enum Role: UInt8, CaseIterable, Hashable, Sendable {
    case agent = 1
    case node = 2
    case backupDirectory = 3
    case directory = 4
    case client = 5
}

/// The body of `hello`.
public struct Hello: Hashable, Sendable {
    public var protocolVersion: UInt16
    public var role: Role
    /// Fresh random bytes, never reused across connections.
    public var nonce: Bytes32
    /// The sender's host name (at most `WireLimits.maxHostNameBytes`).
    public var name: String

    public init(protocolVersion: UInt16 = Message.protocolVersion, role: Role, nonce: Bytes32, name: String) {
        self.protocolVersion = protocolVersion
        self.role = role
        self.nonce = nonce
        self.name = name
    }
}

/// One chunk of a snapshot table: up to `WireLimits.maxEntriesPerFrame` entries of one
/// `Snapshot` table; a table may span several chunks.
public typealias SnapshotChunk = Snapshot.TableContents

extension SnapshotChunk {
    /// Splits a whole table into chunks that each fit a frame. An empty table yields one empty
    /// chunk, so the receiver learns the table exists.
    public static func chunks(id: TableID, name: String, entries: [Entry]) -> [SnapshotChunk] {
        WireLimits.frameChunks(entries).map { SnapshotChunk(id: id, name: name, entries: $0) }
    }
}

/// A write sent by an agent or node to the directory. Tables are addressed by id.
public enum DirectoryRequest: Hashable, Sendable {
    case put(TableID, Entry)
    case delete(TableID, key: String)
    case createTable(name: String)
    case dropTable(TableID)
    /// Drop the table only if it holds no entry (else `notEmpty`), checked when committed.
    case dropEmptyTable(TableID)
    /// Puts and deletes committed all or none, under one version (`Mutation.batch`).
    case batch([Mutation])
}

/// The directory's answer to a `DirectoryRequest`.
public enum RequestResult: Hashable, Sendable {
    /// Committed durably at this version.
    case ok(Version)
    case failed(ErrorCode, message: String)
}

/// The body of `announce`.
public struct Announce: Hashable, Sendable {
    /// Random per agent process: a new value means the agent restarted.
    public var bootID: UInt64
    /// The UDP port the agent answers route probes on; 0 when it takes no part in probing.
    public var probePort: UInt16
    /// The host's routes (`DSD_HOST_ROUTE` `HOST.<index>`), at most `WireLimits.maxRoutes`.
    public var routes: [RouteAnnouncement]

    public init(bootID: UInt64, probePort: UInt16, routes: [RouteAnnouncement]) {
        self.bootID = bootID
        self.probePort = probePort
        self.routes = routes
    }
}

/// One route of an announcing host: `DSD_HOST_ROUTE` key `HOST.<index>` → `address`.
public struct RouteAnnouncement: Hashable, Sendable {
    public var index: UInt32
    public var address: String

    public init(index: UInt32, address: String) {
        self.index = index
        self.address = address
    }
}
