import DSDTestSupport
import Testing

@testable import DSDCore

/// Random operation sequences against a plain reference model.
@Suite struct DirectoryPropertyTests {
    /// The reference: tables by name as dictionaries, and every committed change.
    struct Model {
        var tables: [String: [String: Entry]] = [:]
        var ids: [String: TableID] = [:]
        var changes: [Change] = []
        /// Every version the directory has been at, the initial one included.
        var versions: [Version] = []
    }

    static func contents(_ directory: Directory) -> [String: [String: Entry]] {
        var result: [String: [String: Entry]] = [:]
        for name in directory.tableNames {
            var entries: [String: Entry] = [:]
            for entry in directory.table(named: name)!.allEntries { entries[entry.key] = entry }
            result[name] = entries
        }
        return result
    }

    static func randomMutation(_ directory: Directory, _ rng: inout SplitMix64) -> Mutation? {
        let names = directory.tableNames
        let dynamic = names.filter { directory.table(named: $0)!.id >= .firstDynamic }
        let roll = rng.next() % 100
        let key = "K\(rng.next() % 40)"
        switch roll {
        case 0..<4:
            return try? directory.mutation(forCreateTable: "T\(rng.next() % 6)")
        case 4..<6:
            guard let name = dynamic.randomElement(using: &rng) else { return nil }
            return try? directory.mutation(forDropTable: name)
        case 6..<12:
            // A batch of puts and deletes of distinct keys in one table.
            guard let name = names.randomElement(using: &rng), let table = directory.table(named: name) else {
                return nil
            }
            var operations: [Mutation] = []
            for index in 0..<Int(1 + rng.next() % 8) {
                let key = "K\((rng.next() % 5) * 8 + UInt64(index))"
                if table[key] != nil && rng.next() % 3 == 0 {
                    operations.append(.delete(table.id, key: key))
                } else {
                    operations.append(.put(table.id, Entry(key: key, value: "B\(rng.next() % 5)")))
                }
            }
            let batch = Mutation.batch(operations)
            return (try? directory.check(batch)).map { batch }
        case 12..<30:
            guard let name = names.randomElement(using: &rng),
                let existing = directory.table(named: name)!.allEntries.randomElement(using: &rng)
            else { return nil }
            return try? directory.mutation(forDelete: name, key: existing.key)
        default:
            let name = names.randomElement(using: &rng)!
            let entry = Entry(key: key, value: "V\(rng.next() % 5)", valid: rng.next() % 3 != 0)
            return try? directory.mutation(forPut: name, entry: entry)
        }
    }

    static func applyToModel(_ model: inout Model, _ change: Change) {
        let ids = model.ids
        func nameOf(_ id: TableID) -> String { ids.first { $0.value == id }!.key }
        switch change.mutation {
        case .put(let id, let entry): model.tables[nameOf(id), default: [:]][entry.key] = entry
        case .delete(let id, let key): model.tables[nameOf(id)]![key] = nil
        case .createTable(let id, let name):
            model.ids[name] = id
            model.tables[name] = [:]
        case .dropTable(let id):
            let name = nameOf(id)
            model.ids[name] = nil
            model.tables[name] = nil
        case .batch(let operations):
            for operation in operations {
                switch operation {
                case .put(let id, let entry): model.tables[nameOf(id), default: [:]][entry.key] = entry
                case .delete(let id, let key): model.tables[nameOf(id)]![key] = nil
                default: Issue.record("a batch held \(operation)")
                }
            }
        }
        model.changes.append(change)
        model.versions.append(change.version)
    }

    @Test(arguments: [1, 2, 3, 42, 2026] as [UInt64])
    func randomHistories(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let retained = 24
        var directory = Directory(epoch: 1, settings: Directory.Settings(retainedChanges: retained))
        var model = Model()
        for table in StandardTable.allCases {
            model.ids[table.name] = table.id
            model.tables[table.name] = [:]
        }
        model.versions.append(directory.version)
        var replica = directory
        var lagging = try Directory(snapshot: directory.snapshot(), settings: .testing)
        var deltas = 0
        var snapshots = 0

        for step in 0..<3000 {
            if rng.next() % 400 == 0 { try directory.beginEpoch(directory.epoch + 1) }
            guard let mutation = Self.randomMutation(directory, &rng) else { continue }
            let before = directory.version
            let next =
                directory.epoch > before.epoch
                ? Version(epoch: directory.epoch, index: 1)
                : Version(epoch: before.epoch, index: before.index + 1)
            let change = try directory.commit(mutation)
            #expect(change.version == next)
            #expect(change.version.epoch == directory.epoch)
            Self.applyToModel(&model, change)
            try replica.apply(change)
            if step % 10 == 0 { #expect(Self.contents(directory) == model.tables) }

            // A replica catching up at random intervals, some longer than the retained
            // history, via changes(after:) or a snapshot.
            if rng.next() % 30 == 0 {
                switch directory.changes(after: lagging.version) {
                case .upToDate: break
                case .changes(let delta):
                    for c in delta { try lagging.apply(c) }
                    deltas += 1
                case .snapshotNeeded:
                    lagging = try Directory(snapshot: directory.snapshot(), settings: .testing)
                    snapshots += 1
                }
                #expect(lagging.snapshot() == directory.snapshot())
            }

            if step % 100 == 0 {
                try Self.checkHistory(directory, model, retained: retained)
                let restored = try Directory(snapshot: directory.snapshot(), settings: .testing)
                #expect(restored.snapshot() == directory.snapshot())
            }
        }
        #expect(replica.snapshot() == directory.snapshot())
        #expect(model.changes.count > 2000)
        // Both catch-up paths were exercised.
        #expect(deltas > 10 && snapshots > 3)
        try Self.checkHistory(directory, model, retained: retained)
    }

    /// For every version ever seen: a delta exactly when retained, and the delta brings that
    /// version's state to the current one.
    static func checkHistory(_ directory: Directory, _ model: Model, retained: Int) throws {
        let all = model.changes
        // The newest changes whose operations fit `retained` (the newest one always).
        var kept = 0
        var weight = 0
        while kept < all.count {
            let next = weight + all[all.count - 1 - kept].mutation.operations.count
            if kept > 0 && next > retained { break }
            weight = next
            kept += 1
        }
        let retainedChanges = all.suffix(kept)
        let base = all.count > kept ? all[all.count - kept - 1].version : model.versions[0]
        #expect(directory.oldestRetainedVersion == base)
        let boundaries = Set(retainedChanges.map(\.version) + [base])
        func expected(_ version: Version) -> ChangesSince {
            if version == directory.version { return .upToDate }
            if version == base { return .changes(Array(retainedChanges)) }
            if boundaries.contains(version), let i = all.lastIndex(where: { $0.version == version }) {
                return .changes(Array(all[(i + 1)...]))
            }
            return .snapshotNeeded
        }
        // Also versions that never occurred: just past each version, and other epochs.
        let probes =
            model.versions + model.versions.map { Version(epoch: $0.epoch, index: $0.index + 1) }
            + [.zero, Version(epoch: directory.epoch + 1, index: 0)]
        let wrong = probes.filter { directory.changes(after: $0) != expected($0) }
        #expect(wrong.isEmpty)
        // Versions strictly increase.
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.version < $1.version })
    }
}
