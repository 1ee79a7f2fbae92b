/// Symbolic table names ↔ compact table ids (FIG. 3, translation table 314).
///
/// The standard tables are always registered with their fixed ids. Tables created at run time
/// get `nextDynamicID`, which only grows: an id is never reused within a directory's history,
/// even after its table is dropped, so a stale id on the wire can never name a newer table.
/// A dropped table's name may be used again (with a new id).
public struct TranslationTable: Hashable, Sendable {
    /// The id the next created table gets.
    public private(set) var nextDynamicID: TableID
    private var idsByName: [ExactKey: TableID] = [:]
    private var namesByID: [TableID: String] = [:]

    /// A table holding only the standard tables.
    public init() {
        nextDynamicID = .firstDynamic
        for table in StandardTable.allCases {
            idsByName[ExactKey(table.name)] = table.id
            namesByID[table.id] = table.name
        }
    }

    /// Whether `id` is in the range reserved for standard tables.
    public static func isReserved(_ id: TableID) -> Bool { id < .firstDynamic }

    /// The id of a table name.
    public func id(of name: String) -> TableID? { idsByName[ExactKey(name)] }

    /// The name of a table id.
    public func name(of id: TableID) -> String? { namesByID[id] }

    /// Number of registered tables.
    public var count: Int { namesByID.count }

    /// Checks that a dynamic table `name` could be registered with `id`.
    func checkRegister(_ id: TableID, name: String, maxTables: Int = Limits.maxTables)
        throws(DirectoryError)
    {
        try Validation.checkTableName(name)
        if self.id(of: name) != nil { throw .tableExists(name) }
        if id < nextDynamicID || id.rawValue == UInt32.max { throw .tableIDUnavailable(id) }
        if count >= maxTables { throw .tooManyTables }
    }

    /// Registers a dynamic table; `checkRegister` must have passed.
    mutating func register(_ id: TableID, name: String) {
        idsByName[ExactKey(name)] = id
        namesByID[id] = name
        nextDynamicID = TableID(id.rawValue + 1)
    }

    /// Removes a dynamic table; its id stays used.
    mutating func unregister(_ id: TableID) {
        guard let name = namesByID.removeValue(forKey: id) else { return }
        idsByName[ExactKey(name)] = nil
    }

    /// Restores the id counter from a snapshot; never moves it backwards.
    mutating func restoreNextDynamicID(_ id: TableID) {
        nextDynamicID = max(nextDynamicID, id)
    }
}
