/// Sentences for the directory's refusals: what was refused, naming the table, key or value,
/// and what to do. They are rendered once, where the error leaves the process (the wire, the
/// command line); nothing branches on them.
extension DirectoryError: CustomStringConvertible {
    public var description: String { description(naming: nil) }

    /// The sentence, with table ids given by name when `names` knows them.
    public func description(naming names: TranslationTable?) -> String {
        func table(_ id: TableID) -> String { names?.name(of: id).map { "table \($0)" } ?? "table #\(id.rawValue)" }
        switch self {
        case .invalidKey(let problem):
            return "invalid key: a key \(problem.sentence)"
        case .keyTooLong(let bytes):
            return "invalid key: \(bytes) bytes is longer than the limit of \(Limits.maxKeyBytes)"
        case .invalidValue(let problem):
            return "invalid value: a value \(problem.sentence)"
        case .valueTooLong(let bytes):
            return "invalid value: \(bytes) bytes is longer than the limit of \(Limits.maxValueBytes)"
        case .invalidTableName(let problem):
            return "invalid table name: a table name \(problem.sentence)"
        case .tableNameTooLong(let bytes):
            return "invalid table name: \(bytes) bytes is longer than the limit of \(Limits.maxTableNameBytes)"
        case .noSuchTable(let name):
            return "no table \(name) (dsd ls lists the tables)"
        case .noSuchTableID(let id):
            return "no \(table(id))"
        case .noSuchEntry(let id, let key):
            return "no entry \(key) in \(table(id))"
        case .tableExists(let name):
            return "table \(name) already exists"
        case .tableIDUnavailable(let id):
            return "table id \(id.rawValue) was used before or is reserved; ids are never reused"
        case .tooManyTables:
            return "the directory already holds the most tables it may (\(Limits.maxTables)); drop one first"
        case .tableFull(let id):
            return
                "\(table(id)) already holds the most entries it may (\(Limits.maxEntriesPerTable)); remove some first"
        case .standardTable(let name):
            return "\(name) is a standard table: it exists in every directory and cannot be dropped"
        case .tableNotEmpty(let name, let entries):
            return
                "table \(name) is not empty (\(entries) \(entries == 1 ? "entry" : "entries")): remove them first, or drop it with them: dsd rmtable \(name) --force"
        case .staleVersion(let current, let received):
            return "change \(received) is not newer than the replica's version \(current)"
        case .staleEpoch(let current, let requested):
            return "epoch \(requested) is not greater than the epoch already used (\(current))"
        case .inconsistentSnapshot(let why):
            return "inconsistent snapshot: \(why)"
        case .invalidBatch(let problem):
            return "invalid batch: \(problem.sentence); nothing of it was applied"
        case .inBatch(let index, let error):
            return
                "operation \(index + 1) of the batch: \(error.description(naming: names)); nothing of the batch was applied"
        }
    }
}

extension DirectoryError.BatchProblem {
    /// Completes "invalid batch: …".
    var sentence: String {
        switch self {
        case .empty: "it holds no operation"
        case .tooManyOperations(let count):
            "\(count) operations is more than the limit of \(Limits.maxBatchOperations); split it"
        case .tooManyBytes(let bytes): "\(bytes) bytes is more than the limit of \(Limits.maxBatchBytes); split it"
        case .notAnEntryChange(let index):
            "operation \(index + 1) is not a put or delete of an entry (tables are created and dropped on their own)"
        case .keyTwice(let index, let key):
            "operation \(index + 1) changes \(key) again; a batch changes each key once (split it there)"
        }
    }
}

extension DirectoryError.NameProblem {
    /// Completes "a key …".
    var sentence: String {
        switch self {
        case .empty: "may not be empty"
        case .dotName: "may not be . or .."
        case .forbiddenCharacter(let scalar):
            "may not contain \(scalar.spelled) (no '/', whitespace or control characters)"
        }
    }
}

extension DirectoryError.ValueProblem {
    /// Completes "a value …".
    var sentence: String {
        switch self {
        case .empty: "may not be empty"
        case .forbiddenCharacter(let scalar): "may not contain \(scalar.spelled) (no whitespace or control characters)"
        }
    }
}

extension Unicode.Scalar {
    /// How a message names this character: `a space`, `'/'`, `U+0007`.
    var spelled: String {
        switch self {
        case " ": "a space"
        case "\t": "a tab"
        case "\n": "a newline"
        case "\r": "a carriage return"
        default:
            value < 0x20 || value == 0x7F || properties.isWhitespace
                ? "the character U+\(String(value, radix: 16, uppercase: true).leftPadded(to: 4))" : "'\(self)'"
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
