import DSDAgent
import DSDCore
import DSDFuse
import DSDWire

/// Adapts the agent to what the `/dsd` filesystem needs. Reads go to the replica under its
/// lock; writes block the calling filesystem thread until the directory committed them.
struct AgentFilesystemBackend: FilesystemBackend {
    let agent: Agent

    func tableNames() -> [String] { agent.replica.read { $0.tableNames } }

    func tableExists(_ name: String) -> Bool { agent.replica.read { $0.table(named: name) != nil } }

    func entries(table: String) -> [Entry]? { agent.replica.read { $0.table(named: table)?.allEntries } }

    func entry(table: String, key: String) -> Entry? { agent.replica.read { $0.entry(table: table, key: key) } }

    func put(table: String, entry: Entry) throws(BackendError) {
        do { _ = try agent.put(table: table, entry: entry) } catch { throw Self.map(error) }
    }

    func delete(table: String, key: String) throws(BackendError) {
        do { _ = try agent.delete(table: table, key: key) } catch { throw Self.map(error) }
    }

    func createTable(_ name: String) throws(BackendError) {
        do { _ = try agent.createTable(name) } catch { throw Self.map(error) }
    }

    func dropEmptyTable(_ name: String) throws(BackendError) {
        do { _ = try agent.dropEmptyTable(name) } catch { throw Self.map(error) }
    }

    func heartbeat(table: String, key: String, deadline: ContinuousClock.Instant?) throws(BackendError) {
        var timeMax: Duration?
        if let deadline {
            let left = deadline - ContinuousClock.now
            if left > .zero { timeMax = left }
        }
        do { _ = try agent.heartbeat(table: table, key: key, timeMax: timeMax) } catch { throw Self.map(error) }
    }

    func find(_ instance: String) -> Result<String, ResolveFailure> {
        agent.replica.read { $0.findServer(instance) }.map(\.description).mapError(Self.map)
    }

    func partition(table: String, number: UInt64) -> Result<String, ResolveFailure> {
        agent.replica.read { directory -> Result<String, ResolveFailure> in
            guard let id = directory.translation.id(of: table) else { return .failure(.notFound) }
            return directory.partition(table: id, number: number).map(\.description).mapError { error in
                if case .find(let find) = error { return Self.map(find) }
                if case .invalidPartition = error { return .unreachable }
                return .notFound
            }
        }
    }

    func statusText() -> String {
        agent.status().map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    static func map(_ error: FindError) -> ResolveFailure {
        switch error {
        case .noSuchInstance, .noSuchTable: .notFound
        case .noValidServer, .noValidRoute, .malformedRoute: .unreachable
        }
    }

    static func map(_ error: AgentError) -> BackendError {
        switch error {
        case .noSuchTable: .noSuchTable
        case .notFound: .noSuchEntry
        case .notSynced, .unavailable: .unavailable(error.description)
        // A write whose connection closed before the answer has an unknown outcome, like one
        // that timed out: ETIMEDOUT, not EIO.
        case .timedOut, .connectionLost: .timedOut
        case .resolve, .partition: .noSuchEntry
        case .rejected(let code, let why):
            switch code {
            case .noSuchTable: .noSuchTable
            case .notFound: .noSuchEntry
            case .tableExists: .exists
            case .tooManyTables, .tableFull: .limitReached
            case .notPermitted: .notPermitted
            case .notEmpty: .notEmpty
            case .invalidKey, .invalidValue, .invalidTableName, .malformed, .invalidBatch: .invalidArgument(why)
            case .unavailable, .staleVersion, .resync, .protocolVersion, .authFailed, .noValidServer, .noValidRoute,
                .internal:
                .unavailable(why)
            case .timeout: .timedOut
            }
        }
    }
}

extension DSDFuse.ReplicaEvent {
    /// The filesystem's view of an agent replica event.
    init(_ event: DSDAgent.ReplicaEvent) {
        switch event {
        case .put(let table, let entry, let previous): self = .put(table: table, entry: entry, previous: previous)
        case .delete(let table, let key, _): self = .delete(table: table, key: key)
        case .tableCreated(let name): self = .tableCreated(name)
        case .tableDropped(let name): self = .tableDropped(name)
        case .reset: self = .reset
        }
    }
}
