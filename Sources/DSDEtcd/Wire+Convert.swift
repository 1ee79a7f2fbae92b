import FoundationEssentials

/// An answer that does not fit the gateway's JSON; becomes `EtcdError.malformedAnswer`.
struct WireProblem: Error, Sendable {
    var detail: String
    init(_ detail: String) { self.detail = detail }
}

extension Wire {
    static func decodeBytes(_ text: String?, _ field: String) throws(WireProblem) -> [UInt8] {
        guard let text, !text.isEmpty else { return [] }
        guard let data = Data(base64Encoded: text) else { throw WireProblem("\(field) is not base64") }
        return Array(data)
    }

    static func decodeInt(_ text: String?, _ field: String) throws(WireProblem) -> Int64 {
        guard let text else { return 0 }
        guard let value = Int64(text) else { throw WireProblem("\(field) \"\(text)\" is not a 64-bit integer") }
        return value
    }

    static func decodeUInt(_ text: String?, _ field: String) throws(WireProblem) -> UInt64 {
        guard let text else { return 0 }
        guard let value = UInt64(text) else { throw WireProblem("\(field) \"\(text)\" is not an unsigned integer") }
        return value
    }

    static func range(_ keys: KeyRange) -> (key: String, end: String?) {
        (bytes(keys.key), keys.end.map(bytes))
    }

    static func request(_ request: DSDEtcd.RangeRequest) -> RangeRequest {
        let (key, end) = range(request.keys)
        return RangeRequest(
            key: key, range_end: end, limit: int(request.limit), revision: int(request.revision),
            keys_only: flag(request.keysOnly), count_only: flag(request.countOnly))
    }

    static func compare(_ compare: DSDEtcd.Compare) -> Compare {
        var wire = Compare(
            key: bytes(compare.key), range_end: compare.rangeEnd.map(bytes), target: "", result: compare.result.rawValue
        )
        // A compare's operand is sent even at its default (0): it is what is compared.
        switch compare.target {
        case .value(let value):
            wire.target = "VALUE"
            wire.value = bytes(value)
        case .version(let version):
            wire.target = "VERSION"
            wire.version = String(version)
        case .createRevision(let revision):
            wire.target = "CREATE"
            wire.create_revision = String(revision)
        case .modRevision(let revision):
            wire.target = "MOD"
            wire.mod_revision = String(revision)
        case .lease(let lease):
            wire.target = "LEASE"
            wire.lease = String(lease)
        }
        return wire
    }

    static func operation(_ operation: TxnOperation) -> RequestOp {
        switch operation {
        case .put(let key, let value, let lease):
            RequestOp(request_put: PutRequest(key: bytes(key), value: bytes(value), lease: int(lease)))
        case .delete(let keys):
            RequestOp(request_delete_range: DeleteRangeRequest(key: range(keys).key, range_end: range(keys).end))
        case .range(let request):
            RequestOp(request_range: Self.request(request))
        }
    }
}

extension Wire.Header {
    func decoded() throws(WireProblem) -> ResponseHeader {
        ResponseHeader(
            clusterID: try Wire.decodeUInt(cluster_id, "cluster_id"),
            memberID: try Wire.decodeUInt(member_id, "member_id"),
            revision: try Wire.decodeInt(revision, "revision"), raftTerm: try Wire.decodeUInt(raft_term, "raft_term"))
    }
}

extension Optional where Wrapped == Wire.Header {
    func decoded() throws(WireProblem) -> ResponseHeader {
        guard let self else { throw WireProblem("the answer has no header") }
        return try self.decoded()
    }
}

extension Wire.KeyValue {
    func decoded() throws(WireProblem) -> DSDEtcd.KeyValue {
        DSDEtcd.KeyValue(
            key: try Wire.decodeBytes(key, "key"), value: try Wire.decodeBytes(value, "value"),
            createRevision: try Wire.decodeInt(create_revision, "create_revision"),
            modRevision: try Wire.decodeInt(mod_revision, "mod_revision"),
            version: try Wire.decodeInt(version, "version"), lease: try Wire.decodeInt(lease, "lease"))
    }
}

extension [Wire.KeyValue] {
    func decoded() throws(WireProblem) -> [DSDEtcd.KeyValue] {
        var result: [DSDEtcd.KeyValue] = []
        result.reserveCapacity(count)
        for kv in self { result.append(try kv.decoded()) }
        return result
    }
}

extension Wire.RangeResponse {
    func decoded() throws(WireProblem) -> DSDEtcd.RangeResponse {
        DSDEtcd.RangeResponse(
            header: try header.decoded(), kvs: try (kvs ?? []).decoded(), count: try Wire.decodeInt(count, "count"),
            more: more ?? false)
    }
}

extension Wire.PutResponse {
    func decoded() throws(WireProblem) -> DSDEtcd.PutResponse {
        DSDEtcd.PutResponse(header: try header.decoded(), previous: try prev_kv?.decoded())
    }
}

extension Wire.DeleteRangeResponse {
    func decoded() throws(WireProblem) -> DeleteResponse {
        DeleteResponse(
            header: try header.decoded(), deleted: try Wire.decodeInt(deleted, "deleted"),
            previous: try (prev_kvs ?? []).decoded())
    }
}

extension Wire.TxnResponse {
    func decoded() throws(WireProblem) -> DSDEtcd.TxnResponse {
        var answers: [DSDEtcd.TxnResponse.Answer] = []
        for response in responses ?? [] {
            // Sub-answers carry only the fields that differ from their defaults; an empty
            // header is kept as the transaction's.
            if let put = response.response_put {
                answers.append(.put(PutResponse(header: try put.header?.decoded() ?? .init(), previous: nil)))
            } else if let delete = response.response_delete_range {
                answers.append(
                    .delete(
                        DeleteResponse(
                            header: try delete.header?.decoded() ?? .init(),
                            deleted: try Wire.decodeInt(delete.deleted, "deleted"),
                            previous: try (delete.prev_kvs ?? []).decoded())))
            } else if let range = response.response_range {
                answers.append(
                    .range(
                        RangeResponse(
                            header: try range.header?.decoded() ?? .init(), kvs: try (range.kvs ?? []).decoded(),
                            count: try Wire.decodeInt(range.count, "count"), more: range.more ?? false)))
            } else {
                throw WireProblem("a transaction answer has no put, delete or range response")
            }
        }
        return DSDEtcd.TxnResponse(header: try header.decoded(), succeeded: succeeded ?? false, answers: answers)
    }
}
