/// A change to the directory, as committed to the log and pushed to replicas.
public enum Mutation: Hashable, Sendable {
    /// Add or replace an entry.
    case put(TableID, Entry)
    /// Remove an entry.
    case delete(TableID, key: String)
    /// Create a table with the given id and name.
    case createTable(TableID, name: String)
    /// Drop a table and all of its entries.
    case dropTable(TableID)
}

/// A mutation together with the version the directory assigned to it.
public struct Change: Hashable, Sendable {
    public var version: Version
    public var mutation: Mutation

    public init(version: Version, mutation: Mutation) {
        self.version = version
        self.mutation = mutation
    }
}

extension Mutation {
    /// The table the mutation changes.
    public var table: TableID {
        switch self {
        case .put(let id, _), .delete(let id, _), .createTable(let id, _), .dropTable(let id): id
        }
    }

    /// The key of the entry the mutation changes; nil for table mutations.
    public var key: String? {
        switch self {
        case .put(_, let entry): entry.key
        case .delete(_, let key): key
        case .createTable, .dropTable: nil
        }
    }
}
