import DSDCore
import DSDFuse
import Synchronization

/// A replica in memory, standing in for the agent: local changes apply to the store and are
/// then reported to the mount, like the agent does once the directory committed them;
/// `remote…` methods simulate changes pushed from the directory.
final class InMemoryBackend: FilesystemBackend {
    struct Store {
        var tables: [String: [String: Entry]] = [:]
        var failNextPut: BackendError?
        var heartbeats: [(String, String, ContinuousClock.Instant?)] = []
        var unreachable: Set<String> = []
        /// A line appended to `statusText` (changes without any replica event, like an agent's).
        var statusNote = ""
    }

    let store = Mutex(Store())
    private let mountRef = Mutex<FuseMount?>(nil)

    init(tables: [String: [Entry]] = [:]) {
        store.withLock { s in
            for (name, entries) in tables {
                s.tables[name] = Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0) })
            }
        }
    }

    func attach(_ mount: FuseMount?) { mountRef.withLock { $0 = mount } }

    private func report(_ events: [ReplicaEvent]) {
        mountRef.withLock { $0 }?.replicaChanged(events)
    }

    // MARK: simulated directory pushes

    func remotePut(_ table: String, _ entry: Entry) {
        let previous = store.withLock { s -> Entry? in
            if s.tables[table] == nil { s.tables[table] = [:] }
            defer { s.tables[table]![entry.key] = entry }
            return s.tables[table]![entry.key]
        }
        report([.put(table: table, entry: entry, previous: previous)])
    }

    func remoteDelete(_ table: String, _ key: String) {
        store.withLock { _ = $0.tables[table]?.removeValue(forKey: key) }
        report([.delete(table: table, key: key)])
    }

    func remoteCreateTable(_ table: String) {
        store.withLock { $0.tables[table] = $0.tables[table] ?? [:] }
        report([.tableCreated(table)])
    }

    func remoteDropTable(_ table: String) {
        store.withLock { _ = $0.tables.removeValue(forKey: table) }
        report([.tableDropped(table)])
    }

    func replaceAll(_ tables: [String: [Entry]]) {
        store.withLock { s in
            s.tables = tables.mapValues { Dictionary(uniqueKeysWithValues: $0.map { ($0.key, $0) }) }
        }
        report([.reset])
    }

    func value(_ table: String, _ key: String) -> Entry? {
        store.withLock { $0.tables[table]?[key] }
    }

    // MARK: FilesystemBackend

    func tableNames() -> [String] { store.withLock { Array($0.tables.keys) } }
    func tableExists(_ name: String) -> Bool { store.withLock { $0.tables[name] != nil } }

    func entries(table: String) -> [Entry]? {
        store.withLock { $0.tables[table].map { $0.values.sorted { $0.key < $1.key } } }
    }

    func entry(table: String, key: String) -> Entry? { value(table, key) }

    func put(table: String, entry: Entry) throws(BackendError) {
        let result = store.withLock { s -> Result<Entry?, BackendError> in
            if let failure = s.failNextPut {
                s.failNextPut = nil
                return .failure(failure)
            }
            guard s.tables[table] != nil else { return .failure(.noSuchTable) }
            defer { s.tables[table]![entry.key] = entry }
            return .success(s.tables[table]![entry.key])
        }
        switch result {
        case .failure(let error): throw error
        case .success(let previous): report([.put(table: table, entry: entry, previous: previous)])
        }
    }

    func delete(table: String, key: String) throws(BackendError) {
        let removed = store.withLock { $0.tables[table]?.removeValue(forKey: key) }
        guard removed != nil else { throw .noSuchEntry }
        report([.delete(table: table, key: key)])
    }

    func createTable(_ name: String) throws(BackendError) {
        let created = store.withLock { s -> Bool in
            guard s.tables[name] == nil else { return false }
            s.tables[name] = [:]
            return true
        }
        guard created else { throw .exists }
        report([.tableCreated(name)])
    }

    func dropEmptyTable(_ name: String) throws(BackendError) {
        let result = store.withLock { s -> BackendError? in
            guard let table = s.tables[name] else { return .noSuchTable }
            guard table.isEmpty else { return .notEmpty }
            s.tables[name] = nil
            return nil
        }
        if let result { throw result }
        report([.tableDropped(name)])
    }

    func heartbeat(table: String, key: String, deadline: ContinuousClock.Instant?) throws(BackendError) {
        let previous = store.withLock { s -> Entry? in
            guard let entry = s.tables[table]?[key] else { return nil }
            s.heartbeats.append((table, key, deadline))
            s.tables[table]![key]!.valid = true
            return entry
        }
        guard let previous else { throw .noSuchEntry }
        if !previous.valid {
            var entry = previous
            entry.valid = true
            report([.put(table: table, entry: entry, previous: previous)])
        }
    }

    func find(_ instance: String) -> Result<String, ResolveFailure> {
        store.withLock { s in
            guard let route = s.tables["DSD_MTID_METADATA"]?[instance] else { return .failure(.notFound) }
            if !route.valid || s.unreachable.contains(instance) { return .failure(.unreachable) }
            return .success(route.value)
        }
    }

    func partition(table: String, number: UInt64) -> Result<String, ResolveFailure> {
        store.withLock { s in
            guard let parts = s.tables[table], !parts.isEmpty else { return .failure(.notFound) }
            let key = parts[String(number)] != nil ? String(number) : String(number % UInt64(parts.count))
            guard let instance = parts[key]?.value else { return .failure(.notFound) }
            guard let route = s.tables["DSD_MTID_METADATA"]?[instance] else { return .failure(.notFound) }
            return route.valid ? .success(route.value) : .failure(.unreachable)
        }
    }

    func statusText() -> String {
        store.withLock { s in
            "state: test\ntables: \(s.tables.count)" + (s.statusNote.isEmpty ? "" : "\n" + s.statusNote)
        }
    }
}
