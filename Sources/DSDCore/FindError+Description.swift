/// Sentences for failed resolutions (find server, partition mapping), naming the instance,
/// host or table and where to look next.
extension FindError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .noSuchInstance(let name):
            let tables = StandardTable.serverTables.map(\.name).joined(separator: ", ")
            return "no instance \(name) in the server tables (\(tables))"
        case .noValidServer(let name):
            return "\(name) has no valid server: its entries are marked invalid"
        case .noValidRoute(let host):
            return
                "host \(host) has no valid route in \(StandardTable.hostRoute.name) (dsd ls \(StandardTable.hostRoute.name) \(host). shows them)"
        case .malformedRoute(let value):
            return "the server entry's value \(value) is not a server route HOST:IDENTITY"
        case .noSuchTable(let id):
            return "no table #\(id.rawValue)"
        }
    }
}

extension PartitionError: CustomStringConvertible {
    public var description: String { description(table: "the partition table") }

    /// The sentence for a lookup in the partition table named `table`.
    public func description(table: String) -> String {
        switch self {
        case .noSuchTable:
            return "no table \(table) (dsd ls lists the tables)"
        case .noSuchPartition(let number):
            return
                "no partition \(number) in \(table): it has no entry \(number), nor one for \(number) modulo its entry count (a partition table is keyed by partition numbers 0, 1, …, like \(StandardTable.metadataPart.name))"
        case .invalidPartition(let key):
            return "partition \(key) of \(table) is marked invalid"
        case .find(let error):
            return error.description
        }
    }
}
