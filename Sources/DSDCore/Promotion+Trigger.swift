extension Promotion {
    /// `decide`, but only for a change that can affect the primary: the changed instance was
    /// the primary before the change (it failed, was deleted or changed its route), or the
    /// service instance was invalid (an instance may have recovered), or `reclaimPrimary` is
    /// set. A change to some other instance — a new backup registering, or instances
    /// registered before the primary while a table is being loaded — never moves the role.
    public static func decide(
        before: Directory, after: Directory, change: Change, settings: Settings = .default
    ) -> [Mutation] {
        guard let key = change.mutation.key,
            let service = KeyOrder.lastComponent(of: key).map({ String($0.parent) })
        else { return [] }
        let table = change.mutation.table
        guard let serviceBefore = before.entry(table: table, key: service) else { return [] }
        let instanceBefore = before.entry(table: table, key: key)
        let wasPrimary = instanceBefore.map { $0.valid && $0.value == serviceBefore.value } ?? false
        guard wasPrimary || !serviceBefore.valid || settings.reclaimPrimary else { return [] }
        return decide(after, table: table, changedKey: key, settings: settings)
    }
}
