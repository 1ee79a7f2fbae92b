/// One operation of a client's batch.
public enum BatchWrite: Hashable, Sendable {
    case put(table: String, Entry)
    case delete(table: String, key: String)

    public var table: String {
        switch self {
        case .put(let table, _), .delete(let table, _): table
        }
    }

    public var key: String {
        switch self {
        case .put(_, let entry): entry.key
        case .delete(_, let key): key
        }
    }
}
