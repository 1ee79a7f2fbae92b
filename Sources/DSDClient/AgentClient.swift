/// DSDClient: the Swift API local programs use to talk to their host's agent.
///
/// `AgentClient` is a blocking client over the agent's Unix socket, speaking the same framed
/// protocol as everything else (`clientRequest`/`clientReply`). It has no threads of its own:
/// each call writes one request and reads its replies, with a deadline.
import DSDCore
import DSDWire
import FoundationEssentials
import Glibc
import NIOCore

public enum ClientError: Error, Hashable, Sendable {
    /// Why the agent's socket could not be used.
    public enum Unreachable: Hashable, Sendable {
        /// A system call failed: ENOENT (no socket there), ECONNREFUSED (nobody listens),
        /// EACCES (not allowed to connect), …
        case system(errno: Int32)
        /// The agent closed the connection.
        case closed
        /// The path does not fit a Unix socket address.
        case pathTooLong
        /// The client could not start its thread.
        case noThread
    }

    /// The socket could not be reached.
    case agentUnreachable(path: String, Unreachable)
    case timedOut
    /// The agent answered something this client does not understand.
    case protocolError(String)
    /// The agent (or the directory behind it) refused or failed the request; the text is the
    /// agent's sentence.
    case failed(ErrorCode, String)
    /// The agent or the directory refused operation `index` (0-based) of a batch; nothing of
    /// the batch was applied.
    case failedInBatch(index: Int, ErrorCode, String)
    /// Refused before it was sent: a table name, key or value the directory would refuse.
    case invalid(DirectoryError)
}

public final class AgentClient {
    /// Where `dsd agent` and `dsd up` listen unless told otherwise.
    public static let defaultSocketPath = "/run/dsd/agent.sock"

    private let fd: Int32
    private let path: String
    private let timeout: Duration
    private var buffer = ByteBuffer()
    private var nextID: UInt64 = 1

    public init(socketPath: String = AgentClient.defaultSocketPath, timeout: Duration = .seconds(5)) throws(ClientError)
    {
        self.path = socketPath
        self.timeout = timeout
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .agentUnreachable(path: socketPath, .system(errno: errno)) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw .agentUnreachable(path: socketPath, .pathTooLong)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            let code = errno
            close(fd)
            throw .agentUnreachable(path: socketPath, .system(errno: code))
        }
        self.fd = fd
    }

    deinit { close(fd) }

    // MARK: Requests

    public func get(table: String, key: String) throws(ClientError) -> Entry {
        try check { () throws(DirectoryError) in
            try Validation.checkTableName(table)
            try Validation.checkKey(key)
        }
        guard case .entries(let entries, _) = try call(.get(table: table, key: key)), let entry = entries.first else {
            throw .protocolError("expected one entry")
        }
        return entry
    }

    public func list(table: String, prefix: String = "") throws(ClientError) -> [Entry] {
        try check { () throws(DirectoryError) in try Validation.checkTableName(table) }
        let id = try send(.list(table: table, prefix: prefix))
        var all: [Entry] = []
        while true {
            switch try receive(id) {
            case .entries(let entries, let more):
                all += entries
                if !more { return all }
            case let other:
                throw unexpected(other)
            }
        }
    }

    public func tables() throws(ClientError) -> [String] {
        try dumpTables(entries: false).map(\.table)
    }

    public func dump() throws(ClientError) -> [(table: String, entries: [Entry])] {
        try dumpTables(entries: true)
    }

    private func dumpTables(entries: Bool) throws(ClientError) -> [(table: String, entries: [Entry])] {
        let id = try send(.dump)
        var tables: [(table: String, entries: [Entry])] = []
        while true {
            switch try receive(id) {
            case .ok:
                return tables
            case .tableEntries(let table, let chunk, let more):
                if tables.last?.table == table {
                    tables[tables.count - 1].entries += chunk
                } else {
                    tables.append((table, chunk))
                }
                if !more { return tables }
            case let other:
                throw unexpected(other)
            }
        }
    }

    public func find(_ name: String) throws(ClientError) -> String {
        guard case .route(let route) = try call(.find(name: name)) else { throw .protocolError("expected a route") }
        return route
    }

    public func partition(table: String, number: UInt64) throws(ClientError) -> String {
        try check { () throws(DirectoryError) in try Validation.checkTableName(table) }
        guard case .route(let route) = try call(.part(table: table, number: number)) else {
            throw .protocolError("expected a route")
        }
        return route
    }

    public func status() throws(ClientError) -> [(String, String)] {
        guard case .status(let fields) = try call(.status) else { throw .protocolError("expected status") }
        return fields.map { ($0.name, $0.value) }
    }

    @discardableResult
    public func put(table: String, entry: Entry) throws(ClientError) -> Version? {
        try check { () throws(DirectoryError) in
            try Validation.checkTableName(table)
            try Validation.checkEntry(entry)
        }
        return try okVersion(.put(table: table, entry))
    }

    @discardableResult
    public func delete(table: String, key: String) throws(ClientError) -> Version? {
        try check { () throws(DirectoryError) in
            try Validation.checkTableName(table)
            try Validation.checkKey(key)
        }
        return try okVersion(.delete(table: table, key: key))
    }

    @discardableResult
    public func createTable(_ name: String) throws(ClientError) -> Version? {
        try check { () throws(DirectoryError) in try Validation.checkTableName(name) }
        return try okVersion(.createTable(name: name))
    }

    /// Drops the table: only if it holds no entry, or with its entries when `force` is set.
    @discardableResult
    public func dropTable(_ name: String, force: Bool = false) throws(ClientError) -> Version? {
        try check { () throws(DirectoryError) in try Validation.checkTableName(name) }
        return try okVersion(force ? .dropTable(name: name) : .dropEmptyTable(name: name))
    }

    /// Commits `writes` all or none under one version (at most `Limits.maxBatchOperations`
    /// operations and `Limits.maxBatchBytes`, each key of a table once). A refusal names the
    /// operation: `.invalid(.inBatch(index:…))` when the batch is refused here,
    /// `.failedInBatch(index:…)` when the agent or the directory refuses it.
    @discardableResult
    public func batch(_ writes: [BatchWrite]) throws(ClientError) -> Version? {
        try check { () throws(DirectoryError) in try BatchWrite.check(writes) }
        return try okVersion(.batch(writes))
    }

    /// A heartbeat (FIG. 5C); `timeMax` nil reuses the entry's last Time_Max.
    @discardableResult
    public func heartbeat(table: String, key: String, timeMax: Duration?) throws(ClientError) -> Version? {
        try check { () throws(DirectoryError) in
            try Validation.checkTableName(table)
            try Validation.checkKey(key)
        }
        return try okVersion(.heartbeat(table: table, key: key, timeMaxMillis: timeMax?.wholeMilliseconds))
    }

    /// Streams the changes of `table` whose keys start with `prefix` until `onEvent` returns
    /// false or the agent goes away. Blocks without a deadline.
    public func watch(
        table: String, prefix: String, onAcknowledged: () -> Void = {}, onEvent: (WatchEvent) -> Bool
    ) throws(ClientError) {
        let id = try send(.watch(table: table, prefix: prefix))
        guard case .ok = try receive(id) else { throw .protocolError("watch not acknowledged") }
        onAcknowledged()
        while true {
            switch try receive(id, deadline: nil) {
            case .event(let event):
                if !onEvent(event) { return }
            case let other:
                throw unexpected(other)
            }
        }
    }

    // MARK: Framing

    /// Runs the checks the directory would make, so a bad name fails here with its reason
    /// instead of as a frame too large to encode.
    private func check(_ body: () throws(DirectoryError) -> Void) throws(ClientError) {
        do { try body() } catch { throw .invalid(error) }
    }

    private func okVersion(_ request: ClientRequest) throws(ClientError) -> Version? {
        guard case .ok(let version) = try call(request) else { throw .protocolError("expected ok") }
        return version
    }

    private func call(_ request: ClientRequest) throws(ClientError) -> ClientReply {
        try receive(try send(request))
    }

    private func send(_ request: ClientRequest) throws(ClientError) -> UInt64 {
        let id = nextID
        nextID += 1
        var out = ByteBuffer()
        do {
            try out.writeFrame(.clientRequest(id: id, request))
        } catch {
            throw .protocolError("cannot encode the request: \(error)")
        }
        let bytes = Array(out.readableBytesView)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .agentUnreachable(path: path, .system(errno: errno)) }
            offset += n
        }
        return id
    }

    private func receive(_ id: UInt64) throws(ClientError) -> ClientReply {
        try receive(id, deadline: ContinuousClock.now + timeout)
    }

    private func receive(_ id: UInt64, deadline: ContinuousClock.Instant?) throws(ClientError) -> ClientReply {
        while true {
            do {
                if let message = try buffer.readFrame() {
                    buffer.discardReadBytes()
                    switch message {
                    case .clientReply(let replyID, let reply) where replyID == id:
                        if case .failed(let code, let text) = reply { throw ClientError.failed(code, text) }
                        if case .failedInBatch(let index, let code, let text) = reply {
                            throw ClientError.failedInBatch(index: index, code, text)
                        }
                        return reply
                    case .error(let code, let text):
                        throw ClientError.failed(code, text)
                    default:
                        throw ClientError.protocolError("unexpected \(message.type)")
                    }
                }
            } catch let error as ClientError {
                throw error
            } catch {
                throw .protocolError("\(error)")
            }
            try fill(deadline: deadline)
        }
    }

    private func fill(deadline: ContinuousClock.Instant?) throws(ClientError) {
        var waitMillis: Int32 = -1
        if let deadline {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw .timedOut }
            waitMillis = Int32(
                clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
        }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, waitMillis)
        if ready < 0 && errno == EINTR { return }
        guard ready > 0 else {
            if ready == 0 { throw .timedOut }
            throw .agentUnreachable(path: path, .system(errno: errno))
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 && errno == EINTR { return }
        guard n > 0 else { throw .agentUnreachable(path: path, n == 0 ? .closed : .system(errno: errno)) }
        buffer.writeBytes(chunk[0..<n])
    }

    private func unexpected(_ reply: ClientReply) -> ClientError {
        .protocolError("unexpected reply \(reply)")
    }
}

extension WatchEvent {
    /// The line `dsd watch` and the `events` files print: `ADD <key> <value> <valid>`,
    /// `DEL <key>` or `RESCAN`.
    public var line: String {
        switch self {
        case .add(let entry): "ADD \(entry.key) \(entry.value) \(entry.valid ? 1 : 0)"
        case .delete(let key): "DEL \(key)"
        case .rescan: "RESCAN"
        }
    }
}
