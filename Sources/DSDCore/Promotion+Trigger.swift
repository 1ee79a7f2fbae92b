extension Promotion {
    /// `decide`, but only for a change that can affect the primary: the changed instance was
    /// the primary before the change (it failed, was deleted or changed its route), or the
    /// service instance was invalid (an instance may have recovered), or `reclaimPrimary` is
    /// set. A change to some other instance — a new backup registering, or instances
    /// registered before the primary while a table is being loaded — never moves the role.
    public static func decide(
        before: Directory, after: Directory, change: Change, settings: Settings = .default
    ) -> [Mutation] {
        guard mayMovePrimary(before, changing: change.mutation, settings: settings) else { return [] }
        return decide(after, after: change, settings: settings)
    }

    /// Whether `mutation`, applied to `directory` as it is now, can affect the primary (the
    /// condition `decide(before:after:change:)` checks). Reading it before the commit lets a
    /// driver keep no copy of the directory across it.
    public static func mayMovePrimary(_ directory: Directory, changing mutation: Mutation, settings: Settings) -> Bool {
        if case .batch(let operations) = mutation {
            return operations.contains { mayMovePrimary(directory, changing: $0, settings: settings) }
        }
        guard let key = mutation.key, let table = mutation.table,
            let service = KeyOrder.lastComponent(of: key).map({ String($0.parent) })
        else { return false }
        guard let serviceBefore = directory.entry(table: table, key: service) else { return false }
        let instanceBefore = directory.entry(table: table, key: key)
        let wasPrimary = instanceBefore.map { $0.valid && $0.value == serviceBefore.value } ?? false
        return wasPrimary || !serviceBefore.valid || settings.reclaimPrimary
    }
}
