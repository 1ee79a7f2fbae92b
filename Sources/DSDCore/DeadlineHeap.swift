/// A min-heap of deadlines with a position index, so a key's deadline can be moved or removed
/// in O(log n) without leaving stale items behind (as etcd's lease queue does).
struct DeadlineHeap<Key: Hashable & Sendable>: Sendable {
    struct Item: Sendable {
        var deadline: Instant
        var key: Key
    }

    private var items: [Item] = []
    private var positions: [Key: Int] = [:]

    var count: Int { items.count }
    var min: Item? { items.first }

    func deadline(of key: Key) -> Instant? { positions[key].map { items[$0].deadline } }

    /// Inserts `key` or moves its deadline.
    mutating func set(_ key: Key, deadline: Instant) {
        if let i = positions[key] {
            let old = items[i].deadline
            items[i].deadline = deadline
            if deadline < old { siftUp(i) } else { siftDown(i) }
        } else {
            items.append(Item(deadline: deadline, key: key))
            positions[key] = items.count - 1
            siftUp(items.count - 1)
        }
    }

    mutating func remove(_ key: Key) {
        guard let i = positions.removeValue(forKey: key) else { return }
        let last = items.removeLast()
        guard i < items.count else { return }
        items[i] = last
        positions[last.key] = i
        siftDown(i)
        siftUp(i)
    }

    mutating func popMin() -> Item? {
        guard let first = items.first else { return nil }
        remove(first.key)
        return first
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        items.swapAt(a, b)
        positions[items[a].key] = a
        positions[items[b].key] = b
    }

    private mutating func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].deadline < items[parent].deadline else { return }
            swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var i = index
        while true {
            let left = 2 * i + 1
            let right = left + 1
            var smallest = i
            if left < items.count && items[left].deadline < items[smallest].deadline {
                smallest = left
            }
            if right < items.count && items[right].deadline < items[smallest].deadline {
                smallest = right
            }
            guard smallest != i else { return }
            swapAt(i, smallest)
            i = smallest
        }
    }
}
