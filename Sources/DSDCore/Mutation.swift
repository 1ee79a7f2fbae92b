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
    /// Puts and deletes of entries (`put` and `delete` only, each key at most once, at most
    /// `Limits.maxBatchOperations` and `Limits.maxBatchBytes`), applied all or none under one
    /// version: one log record, one push, one acknowledgement.
    case batch([Mutation])
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
    /// The table the mutation changes; nil for a batch, which may change several.
    public var table: TableID? {
        switch self {
        case .put(let id, _), .delete(let id, _), .createTable(let id, _), .dropTable(let id): id
        case .batch: nil
        }
    }

    /// The key of the entry the mutation changes; nil for table mutations and batches.
    public var key: String? {
        switch self {
        case .put(_, let entry): entry.key
        case .delete(_, let key): key
        case .createTable, .dropTable, .batch: nil
        }
    }

    /// The single mutations it consists of: its operations for a batch, itself otherwise.
    public var operations: [Mutation] {
        if case .batch(let operations) = self { return operations }
        return [self]
    }

    /// What a batch operation counts against `Limits.maxBatchBytes` (`Limits.batchBytes`).
    public var batchBytes: Int {
        switch self {
        case .put(_, let entry): Limits.batchBytes(key: entry.key, value: entry.value)
        case .delete(_, let key): Limits.batchBytes(key: key, value: nil)
        case .createTable, .dropTable, .batch: 0
        }
    }

    /// Whether it is a put or a delete of an entry, what a batch may hold.
    public var isEntryChange: Bool { key != nil }
}
