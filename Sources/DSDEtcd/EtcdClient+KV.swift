/// Reads and writes of keys: range, put, delete, transaction, compaction. Each throws an
/// `EtcdError` (or `CancellationError`).
extension EtcdClient {
    public func range(_ request: RangeRequest) async throws -> RangeResponse {
        try await call(.range, Wire.request(request), as: Wire.RangeResponse.self) { try $0.decoded() }
    }

    /// The current value of one key, nil if it does not exist.
    public func get(_ key: [UInt8]) async throws -> KeyValue? {
        try await range(RangeRequest(.key(key))).kvs.first
    }

    @discardableResult
    public func put(_ key: [UInt8], _ value: [UInt8], lease: Int64 = 0, prevKV: Bool = false) async throws
        -> PutResponse
    {
        let request = Wire.PutRequest(
            key: Wire.bytes(key), value: Wire.bytes(value), lease: Wire.int(lease), prev_kv: Wire.flag(prevKV))
        return try await call(.put, request, as: Wire.PutResponse.self) { try $0.decoded() }
    }

    @discardableResult
    public func delete(_ keys: KeyRange, prevKV: Bool = false) async throws -> DeleteResponse {
        let (key, end) = Wire.range(keys)
        let request = Wire.DeleteRangeRequest(key: key, range_end: end, prev_kv: Wire.flag(prevKV))
        return try await call(.deleteRange, request, as: Wire.DeleteRangeResponse.self) { try $0.decoded() }
    }

    /// If every compare holds, runs `success`, otherwise `failure`, atomically at one revision.
    /// `resendUnanswered`: the transaction may be sent to another member after one did not
    /// answer, because its compares make a second application fail (see `EtcdClient.call`).
    public func txn(
        _ compares: [Compare], success: [TxnOperation], failure: [TxnOperation] = [], resendUnanswered: Bool = false
    ) async throws -> TxnResponse {
        let request = Wire.TxnRequest(
            compare: compares.map(Wire.compare), success: success.map(Wire.operation),
            failure: failure.map(Wire.operation))
        return try await call(.txn, request, as: Wire.TxnResponse.self, resendUnanswered: resendUnanswered) {
            try $0.decoded()
        }
    }

    /// Discards the history before `revision`: watches and reads at older revisions are then
    /// refused as compacted. `physical` waits until the space is reclaimed.
    @discardableResult
    public func compact(revision: Int64, physical: Bool = false) async throws -> ResponseHeader {
        let request = Wire.CompactionRequest(revision: String(revision), physical: Wire.flag(physical))
        return try await call(.compaction, request, as: Wire.HeaderOnly.self) { try $0.header.decoded() }
    }

    /// Status of the member at `endpoint` alone (no failover: the question is about it).
    public func status(of endpoint: EtcdEndpoint) async throws -> MemberStatus {
        let single = EtcdClient(endpoints: [endpoint], settings: settings, group: group)
        return try await single.call(.status, Wire.StatusRequest(), as: Wire.StatusResponse.self) { status in
            MemberStatus(
                header: try status.header.decoded(), version: status.version ?? "",
                leader: try Wire.decodeUInt(status.leader, "leader"),
                raftTerm: try Wire.decodeUInt(status.raftTerm, "raftTerm"))
        }
    }
}
