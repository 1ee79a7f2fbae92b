/// Size limits of the directory, shared by the core, the wire protocol and the filesystem.
///
/// Every limit is a named constant so that a message, a log record or a file write can be
/// bounded before it is parsed.
public enum Limits {
    /// Longest key in bytes (UTF-8). Keys are file names under `/dsd/tables/<TABLE>/`, and
    /// Linux file names are at most 255 bytes.
    public static let maxKeyBytes = 255
    /// Longest value in bytes (UTF-8). Values are routes and instance names; 1 KiB leaves room
    /// for extra server identity after the port without letting one entry dominate memory.
    public static let maxValueBytes = 1024
    /// Longest table name in bytes; table names are directory names under `/dsd/tables/`.
    public static let maxTableNameBytes = 255
    /// Most tables a directory holds, standard ones included.
    public static let maxTables = 4096
    /// Most entries a single table holds.
    public static let maxEntriesPerTable = 1_000_000
    /// Most operations in one batch. 10,000 entries of a typical size (a key and a route of a
    /// few dozen bytes) are one fsync and one push; more gains little and delays other writes.
    public static let maxBatchOperations = 10_000
    /// Most bytes in one batch (`Mutation.batchBytes`): the batch is one frame on the wire,
    /// and 512 KiB stays well under the 1 MiB frame limit with every header.
    public static let maxBatchBytes = 512 << 10
}
