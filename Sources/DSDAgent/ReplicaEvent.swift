import DSDCore

/// What a replica's downstream server (a `dsd node`) is told: the changes applied, as the
/// directory committed them, or that a snapshot replaced the replica.
public enum ReplicaUpdate: Sendable {
    case changes([Change])
    case replaced
}

/// One change of an agent's replica, as observers (watchers, the filesystem) see it.
public enum ReplicaEvent: Hashable, Sendable {
    /// An entry was added or replaced; `previous` is what it replaced.
    case put(table: String, entry: Entry, previous: Entry?)
    case delete(table: String, key: String, previous: Entry)
    case tableCreated(String)
    case tableDropped(String)
    /// The replica was replaced by a snapshot; the events describing the difference follow
    /// in the same batch.
    case reset

    public var table: String? {
        switch self {
        case .put(let table, _, _), .delete(let table, _, _), .tableCreated(let table), .tableDropped(let table):
            table
        case .reset:
            nil
        }
    }
}

extension ReplicaEvent {
    /// The events that turn `old` into `new` (used when a snapshot replaces the replica).
    static func difference(from old: Directory, to new: Directory) -> [ReplicaEvent] {
        var events: [ReplicaEvent] = [.reset]
        let oldNames = Set(old.tableNames)
        let newNames = Set(new.tableNames)
        for name in old.tableNames where !newNames.contains(name) {
            for entry in old.table(named: name)?.allEntries ?? [] {
                events.append(.delete(table: name, key: entry.key, previous: entry))
            }
            events.append(.tableDropped(name))
        }
        for name in new.tableNames {
            if !oldNames.contains(name) { events.append(.tableCreated(name)) }
            let before = old.table(named: name)
            let after = new.table(named: name)
            guard let before, before.count > 0 else {
                // Nothing to compare with (a first sync): every entry is new, in storage order
                // (no lookup per key; nobody watches a replica that never synced).
                for entry in after?.unorderedEntries ?? [] {
                    events.append(.put(table: name, entry: entry, previous: nil))
                }
                continue
            }
            for entry in after?.allEntries ?? [] where before[entry.key] != entry {
                events.append(.put(table: name, entry: entry, previous: before[entry.key]))
            }
            for entry in before.allEntries where after?[entry.key] == nil {
                events.append(.delete(table: name, key: entry.key, previous: entry))
            }
        }
        return events
    }

    /// The events one applied change produced, given the state before it.
    static func of(_ mutation: Mutation, before: Directory) -> [ReplicaEvent] {
        switch mutation {
        case .put(let id, let entry):
            guard let name = before.translation.name(of: id) else { return [] }
            return [.put(table: name, entry: entry, previous: before.entry(table: id, key: entry.key))]
        case .delete(let id, let key):
            guard let name = before.translation.name(of: id), let previous = before.entry(table: id, key: key) else {
                return []
            }
            return [.delete(table: name, key: key, previous: previous)]
        case .createTable(_, let name):
            return [.tableCreated(name)]
        case .dropTable(let id):
            guard let name = before.translation.name(of: id) else { return [] }
            let entries = before.table(id)?.allEntries ?? []
            return entries.map { .delete(table: name, key: $0.key, previous: $0) } + [.tableDropped(name)]
        case .batch(let operations):
            // Each key occurs once in a batch, so the state before it is each one's "before".
            return operations.flatMap { of($0, before: before) }
        }
    }
}
