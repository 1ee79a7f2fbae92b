/// Why the directory refused a request. Every refusal is one of these; the FUSE bridge maps them
/// to errno values, the wire protocol to error codes and the command line to exit codes.
public enum DirectoryError: Error, Hashable, Sendable {
    /// What is wrong with a key or a table name.
    public enum NameProblem: Hashable, Sendable {
        /// The name is the empty string.
        case empty
        /// The name is `.` or `..`, which are not file names.
        case dotName
        /// The name contains a character it may not hold (`/`, whitespace, a control character).
        case forbiddenCharacter(Unicode.Scalar)
    }

    /// What is wrong with a value.
    public enum ValueProblem: Hashable, Sendable {
        /// The value is the empty string.
        case empty
        /// The value contains whitespace or a control character.
        case forbiddenCharacter(Unicode.Scalar)
    }

    /// The key is not a usable key.
    case invalidKey(NameProblem)
    /// The key is longer than `Limits.maxKeyBytes` bytes of UTF-8.
    case keyTooLong(bytes: Int)
    /// The value is not a usable value.
    case invalidValue(ValueProblem)
    /// The value is longer than `Limits.maxValueBytes` bytes of UTF-8.
    case valueTooLong(bytes: Int)
    /// The table name is not a usable name.
    case invalidTableName(NameProblem)
    /// The table name is longer than `Limits.maxTableNameBytes` bytes of UTF-8.
    case tableNameTooLong(bytes: Int)
    /// No table has this name.
    case noSuchTable(String)
    /// No table has this id.
    case noSuchTableID(TableID)
    /// The table has no entry with this key (delete of a missing entry).
    case noSuchEntry(TableID, key: String)
    /// A table with this name already exists.
    case tableExists(String)
    /// The id was already used by this directory's history (ids are never reused), or is
    /// reserved for standard tables.
    case tableIDUnavailable(TableID)
    /// The directory already holds `Limits.maxTables` tables, or has used up its table ids.
    case tooManyTables
    /// The table already holds `Limits.maxEntriesPerTable` entries.
    case tableFull(TableID)
    /// Standard tables exist in every directory and cannot be dropped.
    case standardTable(String)
    /// The table still holds entries, and the drop asked for an empty table (`rmdir`).
    case tableNotEmpty(String, entries: Int)
    /// A change was not newer than the replica's version.
    case staleVersion(current: Version, received: Version)
    /// A new epoch must be greater than every epoch already used.
    case staleEpoch(current: UInt64, requested: UInt64)
    /// A snapshot that names a table or key twice, or misses its own invariants.
    case inconsistentSnapshot(String)
    /// A batch that is empty, too large, holds something other than puts and deletes, or
    /// changes a key twice.
    case invalidBatch(BatchProblem)
    /// Operation `index` (0-based) of a batch was refused; nothing of the batch was applied.
    indirect case inBatch(index: Int, DirectoryError)

    /// What is wrong with a batch as a whole.
    public enum BatchProblem: Hashable, Sendable {
        case empty
        case tooManyOperations(Int)
        case tooManyBytes(Int)
        /// Operation `index` creates or drops a table, or is a batch itself.
        case notAnEntryChange(index: Int)
        /// Operation `index` changes a key an earlier one already changes.
        case keyTwice(index: Int, key: String)
    }
}
