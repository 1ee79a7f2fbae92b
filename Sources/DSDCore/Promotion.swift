/// Primary/backup selection (FIG. 2B, 4C).
///
/// A service instance `S` (`MDS.1`) holds the server route of its primary; its server
/// instances are the entries `S.<n>` of the same table (`MDS.1.0`, `MDS.1.1`), and the primary
/// is the instance whose value equals `S`'s value. After a change to an instance `K`, the
/// directory calls `decide`, which looks at `S` = `K` without its last dot component:
///
/// - `S` valid, and some valid instance holds `S`'s route: nothing to do — in particular a
///   recovered old primary does not take the role back (no flapping), unless
///   `reclaimPrimary` is set.
/// - `S` valid, but no valid instance holds its route (the primary became invalid or was
///   deleted): promote the first valid instance in sibling order (`S → its route`, valid);
///   when none is valid, `S` becomes invalid and keeps its value.
/// - `S` invalid and some instance valid again: promote it (the one holding `S`'s route if
///   valid, else the first valid one).
/// - Deleting the last instance makes `S` invalid.
///
/// A service with no instances (`GW.1`, which is its own server instance) is never touched.
/// The result is at most one put of `S`, and never a put identical to the current entry, so
/// committing it and calling `decide` again reaches a fixed point.
public enum Promotion {
    public struct Settings: Hashable, Sendable {
        /// When true, the first valid instance in sibling order is always the primary, so a
        /// recovered instance with a lower key takes the role back.
        public var reclaimPrimary: Bool

        public init(reclaimPrimary: Bool) { self.reclaimPrimary = reclaimPrimary }

        /// No reclaiming: every switch of primary interrupts clients, so the role only moves
        /// when the current primary fails.
        public static let `default` = Settings(reclaimPrimary: false)
        public static let testing = Settings.default
    }

    /// The mutations that restore a valid primary after instance `changedKey` of `table`
    /// changed (put or delete).
    public static func decide(
        _ directory: Directory, table: TableID, changedKey: String, settings: Settings = .default
    ) -> [Mutation] {
        guard let service = KeyOrder.lastComponent(of: changedKey).map({ String($0.parent) }),
            let serviceEntry = directory.entry(table: table, key: service)
        else { return [] }
        let instances = directory.instances(of: service, in: table)
        let holder = instances.first { $0.valid && $0.value == serviceEntry.value }
        let firstValid = instances.first { $0.valid }
        let chosen = settings.reclaimPrimary ? firstValid : (holder ?? firstValid)
        let target =
            chosen.map { Entry(key: service, value: $0.value, valid: true) }
            ?? Entry(key: service, value: serviceEntry.value, valid: false)
        return target == serviceEntry ? [] : [.put(table, target)]
    }

    /// `decide` for the entry a committed change touched; other changes need nothing.
    public static func decide(
        _ directory: Directory, after change: Change, settings: Settings = .default
    ) -> [Mutation] {
        // One decision per service a batch touches, the last one standing.
        var decided: [Mutation] = []
        for operation in change.mutation.operations {
            guard let key = operation.key, let table = operation.table else { continue }
            for put in decide(directory, table: table, changedKey: key, settings: settings) {
                decided.removeAll { $0.table == put.table && $0.key == put.key }
                decided.append(put)
            }
        }
        return decided
    }
}
