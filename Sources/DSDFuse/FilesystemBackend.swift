import DSDCore

/// What the filesystem needs from the agent. DSDFuse never sees the agent itself: the
/// command target adapts the agent's replica and upstream link to this protocol.
///
/// Reads (`tableNames`, `tableExists`, `entries`, `entry`, `find`, `partition`,
/// `statusText`) answer from the local replica and must not block on the network.
/// Changes (`put`, `delete`, `createTable`, `dropEmptyTable`) block until the directory has
/// committed them, and throw when it cannot.
public protocol FilesystemBackend: Sendable {
    func tableNames() -> [String]
    func tableExists(_ name: String) -> Bool
    /// Entries of a table sorted by key; `nil` when there is no such table.
    func entries(table: String) -> [Entry]?
    func entry(table: String, key: String) -> Entry?
    func put(table: String, entry: Entry) throws(BackendError)
    func delete(table: String, key: String) throws(BackendError)
    func createTable(_ name: String) throws(BackendError)
    /// `rmdir`: drops the table only if it holds no entry, else throws `.notEmpty` and changes
    /// nothing (checked by the directory when it commits the drop).
    func dropEmptyTable(_ name: String) throws(BackendError)
    /// A heartbeat (`touch`). `deadline` is the next expected heartbeat when the toucher set a
    /// future mtime, `nil` to reuse the entry's last Time_Max.
    func heartbeat(table: String, key: String, deadline: ContinuousClock.Instant?) throws(BackendError)
    /// The complete route of an instance's current primary, e.g. `16.7.13.1:1872`.
    func find(_ instance: String) -> Result<String, ResolveFailure>
    /// The complete route serving partition `number` of `table`.
    func partition(table: String, number: UInt64) -> Result<String, ResolveFailure>
    /// The agent's own state, shown by `/dsd/status`.
    func statusText() -> String
}

/// Why the backend refused or could not perform a change.
public enum BackendError: Error, Equatable, Sendable {
    case noSuchTable
    case noSuchEntry
    case invalidArgument(String)
    /// The directory cannot commit the change now (link down, no quorum): EIO.
    case unavailable(String)
    case timedOut
    case exists
    case notPermitted
    case notEmpty
    /// A size limit of `DSDCore.Limits` (tables, entries per table) would be exceeded.
    case limitReached
}

/// Why a `find` or `part` lookup has no answer.
public enum ResolveFailure: Error, Equatable, Sendable {
    /// No such instance, table or partition: ENOENT.
    case notFound
    /// It exists, but has no valid server or no valid route: EHOSTUNREACH.
    case unreachable
}

/// One change the agent applied to its replica, reported to the mount afterwards.
public enum ReplicaEvent: Equatable, Sendable {
    case put(table: String, entry: Entry, previous: Entry?)
    case delete(table: String, key: String)
    case tableCreated(String)
    case tableDropped(String)
    /// The whole replica was replaced (a snapshot): the mount diffs it against what it knew.
    case reset
}
