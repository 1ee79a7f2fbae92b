/// What a replica at some version needs to catch up.
public enum ChangesSince: Hashable, Sendable {
    /// The replica is at the current version.
    case upToDate
    /// Every change after the replica's version, oldest first.
    case changes([Change])
    /// The directory cannot prove which changes the replica misses: send a snapshot.
    case snapshotNeeded
}

/// The most recent changes of a directory, kept for deltas to reconnecting replicas.
///
/// At most `capacity` entry changes plus `base` (a batch counts as its operations, so a
/// history of batches holds as many entries as one of single writes; the newest change is
/// kept even when it alone is larger), the version of the state just before the oldest
/// retained change. The retained *boundaries* are `base` and every retained change's version; a
/// replica whose version is exactly one of them holds exactly the state at that boundary, so the
/// changes after it bring it to the current state. Any other version — older than `base`, newer
/// than the current version, or one that never occurred in this history (e.g. `(1, 58)` when this
/// history went from `(1, 57)` to `(2, 1)`) — cannot be proven to share this history and gets a
/// snapshot.
///
/// With `continuous` versions (a directory fed by etcd, whose versions are revisions and whose
/// feed reports every revision), every version from `base` to the current one is a boundary:
/// a revision between two changes names the state after the first of them.
///
/// The changes are stored in blocks of `blockSize`, so that appending to a history whose storage
/// is shared with a copy (a reader holding the previous state) copies one block and the block
/// list, not every retained change.
struct ChangeHistory: Sendable {
    static let blockSize = 256

    let capacity: Int
    let continuous: Bool
    /// Every block but the last is full; the oldest retained change is `blocks[0][start]`.
    private var blocks: [[Change]] = []
    private var start = 0
    private(set) var count = 0
    /// The retained changes' operations (`Mutation.operations`), what `capacity` bounds.
    private(set) var weight = 0
    private(set) var base: Version

    init(capacity: Int, base: Version, continuous: Bool = false) {
        self.capacity = max(0, capacity)
        self.base = base
        self.continuous = continuous
    }

    private subscript(logical index: Int) -> Change {
        let i = index + start
        return blocks[i / Self.blockSize][i % Self.blockSize]
    }

    mutating func append(_ change: Change) {
        guard capacity > 0 else {
            base = change.version
            return
        }
        if blocks.isEmpty || blocks[blocks.count - 1].count == Self.blockSize {
            var block: [Change] = []
            block.reserveCapacity(Self.blockSize)
            blocks.append(block)
        }
        blocks[blocks.count - 1].append(change)
        count += 1
        weight += Self.weight(of: change)
        while weight > capacity && count > 1 {
            let oldest = self[logical: 0]
            base = oldest.version
            weight -= Self.weight(of: oldest)
            start += 1
            count -= 1
            if start == Self.blockSize {
                blocks.removeFirst()
                start = 0
            }
        }
    }

    static func weight(of change: Change) -> Int {
        if case .batch(let operations) = change.mutation { return max(1, operations.count) }
        return 1
    }

    func changes(after version: Version, current: Version) -> ChangesSince {
        if version == current { return .upToDate }
        if continuous { return changes(continuouslyAfter: version, current: current) }
        var next: Int
        if version == base {
            next = 0
        } else {
            var low = 0
            var high = count
            while low < high {
                let mid = (low + high) / 2
                if self[logical: mid].version < version { low = mid + 1 } else { high = mid }
            }
            guard low < count, self[logical: low].version == version else {
                return .snapshotNeeded
            }
            next = low + 1
        }
        var result: [Change] = []
        result.reserveCapacity(count - next)
        while next < count {
            result.append(self[logical: next])
            next += 1
        }
        return .changes(result)
    }

    private func changes(continuouslyAfter version: Version, current: Version) -> ChangesSince {
        guard version.epoch == current.epoch, version >= base, version < current else { return .snapshotNeeded }
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if self[logical: mid].version <= version { low = mid + 1 } else { high = mid }
        }
        guard low < count else { return .upToDate }
        var result: [Change] = []
        result.reserveCapacity(count - low)
        for index in low..<count { result.append(self[logical: index]) }
        return .changes(result)
    }
}
