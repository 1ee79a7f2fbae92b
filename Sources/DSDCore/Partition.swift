/// Why a partition number could not be resolved.
public enum PartitionError: Error, Hashable, Sendable {
    /// The partition table does not exist.
    case noSuchTable(TableID)
    /// Neither `n` nor `n mod N` is a key of the partition table (or the table is empty, or the
    /// modulus is 0).
    case noSuchPartition(UInt64)
    /// The partition entry exists but is invalid.
    case invalidPartition(key: String)
    /// The instance the partition maps to could not be found.
    case find(FindError)
}

/// Where a partition number led: the partition key used and the instance serving it.
public struct PartitionTarget: Hashable, Sendable {
    /// The partition table key that matched (`"0"` for 6 with three partitions).
    public var partition: String
    /// The service or server instance that serves it (`MDS.1`).
    public var instance: String
}

/// Partition mapping (FIG. 2E–2G).
extension Directory {
    /// The instance serving partition `number` of the partition table `table`: the entry keyed
    /// `number` (decimal) when present (direct mapping), else the entry keyed `number mod N`
    /// (indirect mapping, FIG. 2G), where N is `modulus` or, when nil, the number of entries in
    /// the table. An invalid partition entry is an error, not a reason to try the modulus.
    public func partitionTarget(
        table: TableID, number: UInt64, modulus: UInt64? = nil
    ) -> Result<PartitionTarget, PartitionError> {
        guard let partitions = tables[table] else { return .failure(.noSuchTable(table)) }
        var key = String(number)
        if partitions[key] == nil {
            let n = modulus ?? UInt64(partitions.count)
            guard n > 0 else { return .failure(.noSuchPartition(number)) }
            key = String(number % n)
        }
        guard let entry = partitions[key] else { return .failure(.noSuchPartition(number)) }
        guard entry.valid else { return .failure(.invalidPartition(key: key)) }
        return .success(PartitionTarget(partition: key, instance: entry.value))
    }

    /// The complete route serving partition `number`: the partition's instance resolved by
    /// find server.
    public func partition(
        table: TableID, number: UInt64, modulus: UInt64? = nil
    ) -> Result<CompleteRoute, PartitionError> {
        partitionTarget(table: table, number: number, modulus: modulus).flatMap { target in
            findServer(target.instance).mapError { .find($0) }
        }
    }
}
