import DSDCore

/// A change of the tree as watchers must see it.
enum TreeChange: Equatable, Sendable {
    case tableCreated(String)
    case tableDropped(String, keys: [String])
    case entryCreated(table: String, entry: Entry)
    case entryModified(table: String, old: Entry, new: Entry)
    case entryDeleted(table: String, entry: Entry)
}

/// The filesystem's own copy of the names and contents it has shown, so that replica events
/// (and a whole-snapshot `reset`) become exact create / modify / delete changes.
struct ReplicaMirror {
    private(set) var tables: [String: [String: Entry]] = [:]

    init() {}

    init(snapshot: [String: [Entry]]) {
        for (name, entries) in snapshot {
            tables[name] = Dictionary(entries.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
        }
    }

    /// Applies one event. `snapshot` is read only for `.reset`.
    mutating func apply(_ event: ReplicaEvent, snapshot: () -> [String: [Entry]]) -> [TreeChange] {
        switch event {
        case .put(let table, let entry, _):
            var changes: [TreeChange] = []
            if tables[table] == nil {
                tables[table] = [:]
                changes.append(.tableCreated(table))
            }
            if let old = tables[table]![entry.key] {
                if old != entry { changes.append(.entryModified(table: table, old: old, new: entry)) }
            } else {
                changes.append(.entryCreated(table: table, entry: entry))
            }
            tables[table]![entry.key] = entry
            return changes
        case .delete(let table, let key):
            guard let old = tables[table]?.removeValue(forKey: key) else { return [] }
            return [.entryDeleted(table: table, entry: old)]
        case .tableCreated(let table):
            guard tables[table] == nil else { return [] }
            tables[table] = [:]
            return [.tableCreated(table)]
        case .tableDropped(let table):
            guard let old = tables.removeValue(forKey: table) else { return [] }
            return [.tableDropped(table, keys: old.keys.sorted())]
        case .reset:
            return reset(to: snapshot())
        }
    }

    private mutating func reset(to snapshot: [String: [Entry]]) -> [TreeChange] {
        var changes: [TreeChange] = []
        for table in tables.keys.sorted() where snapshot[table] == nil {
            changes.append(.tableDropped(table, keys: tables[table]!.keys.sorted()))
            tables[table] = nil
        }
        for table in snapshot.keys.sorted() {
            let fresh = Dictionary(snapshot[table]!.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
            let old = tables[table] ?? [:]
            if tables[table] == nil { changes.append(.tableCreated(table)) }
            for key in old.keys.sorted() where fresh[key] == nil {
                changes.append(.entryDeleted(table: table, entry: old[key]!))
            }
            for key in fresh.keys.sorted() {
                if let before = old[key] {
                    if before != fresh[key]! {
                        changes.append(.entryModified(table: table, old: before, new: fresh[key]!))
                    }
                } else {
                    changes.append(.entryCreated(table: table, entry: fresh[key]!))
                }
            }
            tables[table] = fresh
        }
        return changes
    }
}
