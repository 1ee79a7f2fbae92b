import DSDCore
import DSDEtcd

/// One directory write as an etcd transaction whose compares make the validation hold in etcd
/// itself: if another server changed what the check relied on, the compares fail and nothing
/// is applied (`EtcdWrite.refusal` says why).
struct EtcdWrite: Sendable, Hashable {
    /// What the write must not do on its own (fencing of a deposed master).
    struct Fence: Sendable, Hashable {
        /// The create revision of the master key when this server became master.
        var masterRevision: Int64
    }

    var mutation: Mutation
    var compares: [Compare]
    var success: [TxnOperation]
    /// Reads that tell which compare failed.
    var failure: [TxnOperation]

    /// Makes the write safe to send twice (to another member after one did not answer): the
    /// writer's key must hold `previous` and is set to `next` by the same transaction, so a
    /// second application fails its compare, and the failure branch shows it was applied.
    struct Sequence: Sendable, Hashable {
        var key: [UInt8]
        var previous: UInt64
        var next: UInt64 { previous + 1 }
        /// The server's lease, so the key goes with the server.
        var lease: Int64
    }

    var fence: Fence?
    var sequence: Sequence?
    var requireEmpty: Bool

    /// The transaction of `mutation` (checked by the caller against its local copy), with
    /// `requireEmpty` for a drop that must find the table empty, and `fence` for a write only
    /// the current master may make.
    init(
        _ mutation: Mutation, layout: EtcdLayout, requireEmpty: Bool = false, fence: Fence?, sequence: Sequence? = nil
    ) {
        self.mutation = mutation
        self.fence = fence
        self.sequence = sequence
        self.requireEmpty = requireEmpty
        var compares: [Compare] = []
        switch mutation {
        case .put(let table, let entry):
            if !TranslationTable.isReserved(table) { compares.append(.present(layout.tableKey(table))) }
            success = [.put(key: layout.entryKey(table, entry.key), value: EtcdLayout.entryValue(entry))]
            failure = []
        case .delete(let table, let key):
            compares.append(.present(layout.entryKey(table, key)))
            success = [.delete(.key(layout.entryKey(table, key)))]
            failure = []
        case .createTable(let id, let name):
            // Every create moves the counter, so a create compared against the counter this
            // copy has seen cannot race another create (of the same name or the same id).
            compares.append(
                id == .firstDynamic
                    ? .absent(layout.nextTableIDKey)
                    : Compare(key: layout.nextTableIDKey, .value(Array(String(id.rawValue).utf8)), .equal))
            success = [
                .put(key: layout.tableKey(id), value: Array(name.utf8)),
                .put(key: layout.nextTableIDKey, value: Array(String(id.rawValue + 1).utf8)),
            ]
            failure = []
        case .dropTable(let table):
            compares.append(.present(layout.tableKey(table)))
            if requireEmpty { compares.append(.noKey(withPrefix: layout.entriesPrefix(table))) }
            success = [.delete(.prefix(layout.entriesPrefix(table))), .delete(.key(layout.tableKey(table)))]
            failure = [.range(RangeRequest(.key(layout.tableKey(table)), countOnly: true))]
        case .batch(let operations):
            // Every table put into must exist, every entry deleted too (its key exists only
            // while its table does); the keys are distinct, as etcd requires of a transaction.
            var tables: Set<TableID> = []
            success = []
            for operation in operations {
                switch operation {
                case .put(let table, let entry):
                    if !TranslationTable.isReserved(table), tables.insert(table).inserted {
                        compares.append(.present(layout.tableKey(table)))
                    }
                    success.append(.put(key: layout.entryKey(table, entry.key), value: EtcdLayout.entryValue(entry)))
                case .delete(let table, let key):
                    compares.append(.present(layout.entryKey(table, key)))
                    success.append(.delete(.key(layout.entryKey(table, key))))
                case .createTable, .dropTable, .batch:
                    continue  // refused by the directory's check
                }
            }
            failure = []
        }
        if let fence {
            compares.append(Compare(key: layout.masterKey, .createRevision(fence.masterRevision), .equal))
            failure.insert(.range(RangeRequest(.key(layout.masterKey), keysOnly: true)), at: 0)
        }
        if let sequence {
            compares.append(
                sequence.previous == 0
                    ? .absent(sequence.key)
                    : Compare(key: sequence.key, .value(Array(String(sequence.previous).utf8)), .equal))
            success.append(.put(key: sequence.key, value: Array(String(sequence.next).utf8), lease: sequence.lease))
            failure.insert(.range(RangeRequest(.key(sequence.key))), at: 0)
        }
        self.compares = compares
    }

    /// Why the transaction's compares failed, given the failure branch's answers.
    func refusal(_ answers: [TxnResponse.Answer]) -> EtcdRefusal {
        var answers = answers[...]
        if let sequence, case .range(let writer)? = answers.popFirst(), let kv = writer.kvs.first,
            kv.value == Array(String(sequence.next).utf8)
        {
            return .applied(revision: kv.modRevision)
        }
        if let fence {
            guard case .range(let master)? = answers.popFirst(),
                master.kvs.first?.createRevision == fence.masterRevision
            else { return .deposed }
        }
        switch mutation {
        case .put(let table, _): return .refused(.noSuchTableID(table))
        case .delete(let table, let key): return .refused(.noSuchEntry(table, key: key))
        case .createTable, .batch: return .retry
        case .dropTable(let table):
            if case .range(let range)? = answers.first, range.count == 0 { return .refused(.noSuchTableID(table)) }
            return .notEmpty
        }
    }
}

/// The outcome of a transaction whose compares failed.
enum EtcdRefusal: Sendable, Hashable {
    /// What the check would have said against etcd's state.
    case refused(DirectoryError)
    /// The table holds entries (a drop that must find it empty); the count is read locally.
    case notEmpty
    /// The local copy was behind: catch up with the watch, check again, send again.
    case retry
    /// A guarded write of a master that is no longer master.
    case deposed
    /// An earlier attempt of this very write committed, at `revision`.
    case applied(revision: Int64)
}

/// The watch's events of one revision as the directory's change, if they are one.
enum EtcdChangeReader {
    enum Outcome: Sendable, Hashable {
        /// No table changed at this revision.
        case none
        case change(Change)
        /// The revision holds more than one directory change (written by something other
        /// than a dsd server): the directory is read again from a listing.
        case relist
        /// A key under the prefix that is no directory change (reported, then ignored).
        case unreadable(String)
    }

    /// `events` all have revision `revision` (etcd reports a transaction's events together).
    static func read(_ events: [DSDEtcd.WatchEvent], revision: Int64, epoch: UInt64, layout: EtcdLayout) -> Outcome {
        var mutations: [Mutation] = []
        var dropped: Set<TableID> = []
        for event in events {
            if case .table(let id) = layout.classify(event.kv.key), event.kind == .delete { dropped.insert(id) }
        }
        for event in events {
            switch (layout.classify(event.kv.key), event.kind) {
            case (.table(let id), .put):
                mutations.append(.createTable(id, name: String(decoding: event.kv.value, as: UTF8.self)))
            case (.table(let id), .delete):
                mutations.append(.dropTable(id))
            case (.entry(let id, _), .delete) where dropped.contains(id):
                continue
            case (.entry(let id, let key), .put):
                guard let entry = EtcdLayout.entry(key: key, value: event.kv.value) else {
                    return .unreadable(String(decoding: event.kv.key, as: UTF8.self))
                }
                mutations.append(.put(id, entry))
            case (.entry(let id, let key), .delete):
                mutations.append(.delete(id, key: key))
            case (.nextTableID, _), (.epoch, _), (.agent, _), (.presence, _), (.writer, _), (.other, _):
                continue
            }
        }
        guard let mutation = mutations.first else { return .none }
        if mutations.count > 1 {
            // A dsd batch: puts and deletes of distinct keys. Anything else is not dsd's.
            guard mutations.allSatisfy(\.isEntryChange) else { return .relist }
            return .change(Change(version: Version(epoch: epoch, index: UInt64(revision)), mutation: .batch(mutations)))
        }
        return .change(Change(version: Version(epoch: epoch, index: UInt64(revision)), mutation: mutation))
    }

    /// Splits a watch response's events into runs of one revision each, in order.
    static func byRevision(_ events: [DSDEtcd.WatchEvent]) -> [(revision: Int64, events: [DSDEtcd.WatchEvent])] {
        var runs: [(revision: Int64, events: [DSDEtcd.WatchEvent])] = []
        for event in events {
            if let last = runs.last, last.revision == event.kv.modRevision {
                runs[runs.count - 1].events.append(event)
            } else {
                runs.append((event.kv.modRevision, [event]))
            }
        }
        return runs
    }
}
