import DSDCore
import DSDWire

extension DirectoryRequest {
    /// The mutation a peer's request asks for: a new table gets the next id of `directory`;
    /// a drop that must find its table empty says so (`requiresEmpty`), for the engine to check
    /// where the drop commits. The mutation is not validated here.
    func mutation(in directory: Directory) throws(DirectoryError) -> (mutation: Mutation, requiresEmpty: Bool) {
        switch self {
        case .put(let table, let entry): (.put(table, entry), false)
        case .delete(let table, let key): (.delete(table, key: key), false)
        case .createTable(let name): (try directory.mutation(forCreateTable: name), false)
        case .dropTable(let table): (.dropTable(table), false)
        case .dropEmptyTable(let table): (.dropTable(table), true)
        // A batch of one is that write: it commits and reads back (from etcd) as itself.
        case .batch(let operations) where operations.count == 1: (operations[0], false)
        case .batch(let operations): (.batch(operations), false)
        }
    }
}
