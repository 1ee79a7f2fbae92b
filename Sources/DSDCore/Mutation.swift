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
