import DSDCore

/// A request from a local command-line client to its agent. Tables are addressed by name,
/// because the client has no translation table.
public enum ClientRequest: Hashable, Sendable {
    /// One entry; answered by `entries` with zero or one entry.
    case get(table: String, key: String)
    /// Entries whose key starts with `prefix` (empty = all); answered by chunked `entries`.
    case list(table: String, prefix: String)
    /// Complete route of an instance's current primary; answered by `route`.
    case find(name: String)
    /// Complete route serving a partition; answered by `route`.
    case part(table: String, number: UInt64)
    /// Subscribe to changes of keys starting with `prefix`; answered by `event`s until the
    /// connection closes.
    case watch(table: String, prefix: String)
    /// The agent's state; answered by `status`.
    case status
    /// Every table; answered by chunked `tableEntries`.
    case dump
    case put(table: String, Entry)
    case delete(table: String, key: String)
    case createTable(name: String)
    /// Drop the table with its entries (`dsd rmtable --force`).
    case dropTable(name: String)
    /// Mark the entry valid and expect the next heartbeat within `timeMaxMillis`
    /// (`nil` reuses the entry's last Time_Max).
    case heartbeat(table: String, key: String, timeMaxMillis: UInt64?)
    /// Drop the table only if it holds no entry (`dsd rmtable`, `rmdir`).
    case dropEmptyTable(name: String)
    /// Puts and deletes committed all or none under one version (at most
    /// `Limits.maxBatchOperations` and `Limits.maxBatchBytes`, each key once); answered by `ok`
    /// with that version, or `failed` naming the first operation refused.
    case batch([BatchWrite])
}

/// A reply from an agent to a local client.
public enum ClientReply: Hashable, Sendable {
    /// Done; writes carry the committed version.
    case ok(Version?)
    /// A chunk of entries; `more` is true when further chunks follow for the same request.
    case entries([Entry], more: Bool)
    /// A chunk of one table of a dump; `more` is true when further chunks (of this or later
    /// tables) follow.
    case tableEntries(table: String, [Entry], more: Bool)
    case route(String)
    case status([StatusField])
    case event(WatchEvent)
    case failed(ErrorCode, message: String)
    /// A batch refused at operation `index` (0-based); nothing of it was applied.
    case failedInBatch(index: Int, ErrorCode, message: String)
}

/// One change seen by a watch.
public enum WatchEvent: Hashable, Sendable {
    case add(Entry)
    case delete(key: String)
    /// Events were dropped; the watcher should list the table again.
    case rescan
}

/// One `name: value` line of an agent's status.
public struct StatusField: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
