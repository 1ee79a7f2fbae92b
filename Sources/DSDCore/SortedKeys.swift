/// The keys of a table in byte order, stored as a list of sorted chunks.
///
/// A flat sorted array makes inserting a new key into a table of a million entries move
/// megabytes; chunks of at most `2 * chunkSize` keys bound that work, and copies of a table
/// share every chunk they did not change. Lookup is a binary search over chunk tails, then
/// within a chunk.
struct SortedKeys: Sendable {
    /// A chunk splits in two when it grows beyond twice this many keys.
    static let chunkSize = 256

    private var chunks: [[ExactKey]] = []
    private(set) var count = 0

    /// The chunk that holds `key`, or where it would be inserted. `chunks` is not empty.
    private func chunkIndex(for key: ExactKey) -> Int {
        var low = 0
        var high = chunks.count - 1
        while low < high {
            let mid = (low + high) / 2
            if chunks[mid][chunks[mid].count - 1] < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private static func lowerBound(of key: ExactKey, in chunk: [ExactKey]) -> Int {
        var low = 0
        var high = chunk.count
        while low < high {
            let mid = (low + high) / 2
            if chunk[mid] < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Inserts a key that is not yet present.
    mutating func insert(_ key: ExactKey) {
        count += 1
        guard !chunks.isEmpty else {
            chunks = [[key]]
            return
        }
        let c = chunkIndex(for: key)
        let i = Self.lowerBound(of: key, in: chunks[c])
        chunks[c].insert(key, at: i)
        if chunks[c].count > 2 * Self.chunkSize {
            let tail = Array(chunks[c][Self.chunkSize...])
            chunks[c].removeSubrange(Self.chunkSize...)
            chunks.insert(tail, at: c + 1)
        }
    }

    /// Removes a key that is present.
    mutating func remove(_ key: ExactKey) {
        guard !chunks.isEmpty else { return }
        let c = chunkIndex(for: key)
        let i = Self.lowerBound(of: key, in: chunks[c])
        guard i < chunks[c].count, chunks[c][i] == key else { return }
        chunks[c].remove(at: i)
        count -= 1
        if chunks[c].isEmpty { chunks.remove(at: c) }
    }

    /// Calls `body` for each key starting with `prefix`, in byte order.
    func forEach(prefix: String, _ body: (ExactKey) -> Void) {
        guard !chunks.isEmpty else { return }
        let start = ExactKey(prefix)
        var c = chunkIndex(for: start)
        var i = Self.lowerBound(of: start, in: chunks[c])
        while c < chunks.count {
            let chunk = chunks[c]
            while i < chunk.count {
                guard chunk[i].hasPrefix(prefix) else { return }
                body(chunk[i])
                i += 1
            }
            c += 1
            i = 0
        }
    }
}
