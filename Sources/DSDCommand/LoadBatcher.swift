import DSDCore
import DSDWire

/// Groups the entry lines of a load into batches, in order: a batch ends at `size`
/// operations, before it would exceed `Limits.maxBatchBytes`, and before a key it already
/// puts (a batch changes each key once, so a later line for the same key goes in the next
/// batch and still wins).
struct LoadBatcher {
    /// The writes of one batch and the line each came from.
    struct Batch {
        var writes: [BatchWrite] = []
        var lines: [Int] = []
        var tables: Set<String> = []
    }

    let size: Int
    private var current = Batch()
    private var keys: [String: Set<String>] = [:]
    private var bytes = 0

    init(size: Int) {
        precondition(size >= 1 && size <= Limits.maxBatchOperations, "batch size out of range")
        self.size = size
    }

    /// Adds `item`; returns the batch to send first when `item` does not fit the current one.
    mutating func add(_ item: LoadFormat.Item) -> Batch? {
        let write = BatchWrite.put(table: item.table, item.entry)
        let itemBytes = write.bytes
        var full: Batch?
        if current.writes.count == size || bytes + itemBytes > Limits.maxBatchBytes
            || keys[item.table]?.contains(item.entry.key) == true
        {
            full = finish()
        }
        current.writes.append(write)
        current.lines.append(item.line)
        current.tables.insert(item.table)
        keys[item.table, default: []].insert(item.entry.key)
        bytes += itemBytes
        return full
    }

    /// The batch collected so far, if it holds anything; the next one starts empty.
    mutating func finish() -> Batch? {
        guard !current.writes.isEmpty else { return nil }
        defer {
            current = Batch()
            keys = [:]
            bytes = 0
        }
        return current
    }
}
