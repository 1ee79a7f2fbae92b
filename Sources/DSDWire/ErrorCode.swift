/// Error codes carried by `error`, `response` and `clientReply` frames. Values are fixed
/// forever; new codes get new values.
public enum ErrorCode: UInt8, CaseIterable, Hashable, Sendable {
    /// The peers speak different protocol versions.
    case protocolVersion = 1
    /// The peer could not prove it holds the cluster key.
    case authFailed = 2
    /// A frame could not be decoded, or arrived out of order.
    case malformed = 3
    case noSuchTable = 4
    case invalidKey = 5
    case invalidValue = 6
    case tableExists = 7
    case tooManyTables = 8
    /// The directory could not commit the change (not primary, log failure, shutting down).
    case unavailable = 9
    case timeout = 10
    /// The requested version is no longer in the directory's history; take a snapshot.
    case staleVersion = 11
    case notFound = 12
    /// The instance exists but has no valid server.
    case noValidServer = 13
    /// The server exists but its host has no valid route.
    case noValidRoute = 14
    case `internal` = 15
    /// The peer's role may not use this connection or operation.
    case notPermitted = 16
    case invalidTableName = 17
    /// The table is full (`Limits.maxEntriesPerTable`).
    case tableFull = 18
    /// The receiver fell too far behind and is being resynchronised.
    case resync = 19
    /// The table still holds entries: `rmdir` and `dsd rmtable` without `--force` drop only
    /// empty tables.
    case notEmpty = 20
    /// A batch that is empty, too large, holds a table change or changes a key twice.
    case invalidBatch = 21
}
