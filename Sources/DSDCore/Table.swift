#if canImport(HashTreeCollections)
    import HashTreeCollections

    /// Key → entry storage with structural sharing between copies.
    typealias EntryMap = TreeDictionary<ExactKey, Entry>
#else
    /// Key → entry storage; without swift-collections a copy shares nothing once changed.
    typealias EntryMap = [ExactKey: Entry]
#endif

/// The entries of one table, kept so that lookup by key is a hash probe and prefix search
/// (FIG. 5A) returns its matches in key order without scanning the table.
///
/// Keys are compared as UTF-8 bytes (see `ExactKey`); results come in byte order.
///
/// Copies share storage: with `TreeDictionary` (a persistent hash trie) a change to a table that
/// a reader still holds copies O(log n) nodes and one key chunk, not the whole table, so a
/// driver can publish an immutable copy of the directory after every change.
public struct Table: Sendable, Equatable {
    public let id: TableID
    public let name: String
    private var entries = EntryMap()
    private var order = SortedKeys()

    public init(id: TableID, name: String) {
        self.id = id
        self.name = name
    }

    /// Number of entries.
    public var count: Int { entries.count }

    /// The entry with exactly this key.
    public subscript(key: String) -> Entry? { entries[ExactKey(key)] }

    /// Entries whose key starts with `prefix`, in key order; the empty prefix returns all.
    public func search(prefix: String) -> [Entry] {
        var result: [Entry] = []
        order.forEach(prefix: prefix) { key in
            if let entry = entries[key] { result.append(entry) }
        }
        return result
    }

    /// Every entry, in key order.
    public var allEntries: [Entry] { search(prefix: "") }

    /// Every entry, in no particular order: a walk of the storage without a lookup per key,
    /// for whoever needs them all but not sorted (a replica's difference, a mirror's copy).
    public var unorderedEntries: [Entry] {
        var result: [Entry] = []
        result.reserveCapacity(entries.count)
        for (_, entry) in entries { result.append(entry) }
        return result
    }

    /// Adds or replaces an entry; returns the entry it replaced.
    @discardableResult
    mutating func put(_ entry: Entry) -> Entry? {
        let key = ExactKey(entry.key)
        let old = entries.updateValue(entry, forKey: key)
        if old == nil { order.insert(key) }
        return old
    }

    /// Removes an entry; returns it.
    @discardableResult
    mutating func remove(key: String) -> Entry? {
        let exact = ExactKey(key)
        guard let old = entries.removeValue(forKey: exact) else { return nil }
        order.remove(exact)
        return old
    }

    public static func == (lhs: Table, rhs: Table) -> Bool {
        lhs.id == rhs.id && lhs.name == rhs.name && lhs.entries == rhs.entries
    }
}
