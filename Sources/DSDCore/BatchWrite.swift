/// One operation of a client's batch: `Mutation.batch` with tables by name.
public enum BatchWrite: Hashable, Sendable {
    case put(table: String, Entry)
    case delete(table: String, key: String)

    public var table: String {
        switch self {
        case .put(let table, _), .delete(let table, _): table
        }
    }

    public var key: String {
        switch self {
        case .put(_, let entry): entry.key
        case .delete(_, let key): key
        }
    }

    /// What it counts against `Limits.maxBatchBytes`.
    public var bytes: Int {
        switch self {
        case .put(_, let entry): Limits.batchBytes(key: entry.key, value: entry.value)
        case .delete(_, let key): Limits.batchBytes(key: key, value: nil)
        }
    }

    /// What the directory checks of a batch without its state: its size, every name, key and
    /// value, and each key of a table once.
    public static func check(_ writes: [BatchWrite]) throws(DirectoryError) {
        try Limits.checkBatch(operations: writes.count, bytes: writes.reduce(0) { $0 + $1.bytes })
        var keys: [String: Set<String>] = [:]
        for (index, write) in writes.enumerated() {
            do throws(DirectoryError) {
                try Validation.checkTableName(write.table)
                switch write {
                case .put(_, let entry): try Validation.checkEntry(entry)
                case .delete(_, let key): try Validation.checkKey(key)
                }
            } catch {
                throw .inBatch(index: index, error)
            }
            guard keys[write.table, default: []].insert(write.key).inserted else {
                throw .invalidBatch(.keyTwice(index: index, key: write.key))
            }
        }
    }
}

extension Limits {
    /// The bytes one batch operation counts against `maxBatchBytes`: its key and value and 16
    /// bytes for the rest of its encoding (a frame's per-operation overhead is less).
    public static func batchBytes(key: String, value: String?) -> Int {
        key.utf8.count + (value?.utf8.count ?? 0) + 16
    }

    /// Refuses a batch of no operation, or of more than `maxBatchOperations` or `maxBatchBytes`.
    public static func checkBatch(operations: Int, bytes: Int) throws(DirectoryError) {
        guard operations > 0 else { throw .invalidBatch(.empty) }
        guard operations <= maxBatchOperations else { throw .invalidBatch(.tooManyOperations(operations)) }
        guard bytes <= maxBatchBytes else { throw .invalidBatch(.tooManyBytes(bytes)) }
    }
}
