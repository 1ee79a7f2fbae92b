import FoundationEssentials

/// The gateway's JSON, as protobuf's JSON mapping writes it: bytes in base64, 64-bit integers
/// as strings, fields at their default value (0, false, empty) left out. These shapes are
/// internal; `Wire+Convert.swift` turns them into the public types.
enum Wire {
    static func bytes(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
    static func int(_ value: Int64) -> String? { value == 0 ? nil : String(value) }
    static func flag(_ value: Bool) -> Bool? { value ? true : nil }

    struct Header: Decodable {
        var cluster_id: String?
        var member_id: String?
        var revision: String?
        var raft_term: String?
    }

    struct KeyValue: Decodable {
        var key: String?
        var value: String?
        var create_revision: String?
        var mod_revision: String?
        var version: String?
        var lease: String?
    }

    struct RangeRequest: Encodable {
        var key: String
        var range_end: String?
        var limit: String?
        var revision: String?
        var keys_only: Bool?
        var count_only: Bool?
    }

    struct RangeResponse: Decodable {
        var header: Header?
        var kvs: [KeyValue]?
        var more: Bool?
        var count: String?
    }

    struct PutRequest: Encodable {
        var key: String
        var value: String
        var lease: String?
        var prev_kv: Bool?
    }

    struct PutResponse: Decodable {
        var header: Header?
        var prev_kv: KeyValue?
    }

    struct DeleteRangeRequest: Encodable {
        var key: String
        var range_end: String?
        var prev_kv: Bool?
    }

    struct DeleteRangeResponse: Decodable {
        var header: Header?
        var deleted: String?
        var prev_kvs: [KeyValue]?
    }

    struct Compare: Encodable {
        var key: String
        var range_end: String?
        var target: String
        var result: String
        var value: String?
        var version: String?
        var create_revision: String?
        var mod_revision: String?
        var lease: String?
    }

    struct RequestOp: Encodable {
        var request_range: RangeRequest?
        var request_put: PutRequest?
        var request_delete_range: DeleteRangeRequest?
    }

    struct TxnRequest: Encodable {
        var compare: [Compare]
        var success: [RequestOp]
        var failure: [RequestOp]
    }

    struct ResponseOp: Decodable {
        var response_range: RangeResponse?
        var response_put: PutResponse?
        var response_delete_range: DeleteRangeResponse?
    }

    struct TxnResponse: Decodable {
        var header: Header?
        var succeeded: Bool?
        var responses: [ResponseOp]?
    }

    struct CompactionRequest: Encodable {
        var revision: String
        var physical: Bool?
    }

    struct HeaderOnly: Decodable {
        var header: Header?
    }

    struct LeaseGrantRequest: Encodable {
        var TTL: String
        var ID: String?
    }

    /// Grant and keepalive answers; keepalive's is wrapped in `result` (it is a stream).
    struct LeaseAnswer: Decodable {
        var header: Header?
        var ID: String?
        var TTL: String?
        var grantedTTL: String?
        var keys: [String]?
    }

    struct Wrapped<Body: Decodable>: Decodable {
        var result: Body?
        var error: ErrorAnswer?
    }

    struct LeaseID: Encodable {
        var ID: String
        var keys: Bool?
    }

    struct StatusRequest: Encodable {}

    struct StatusResponse: Decodable {
        var header: Header?
        var version: String?
        var leader: String?
        var raftTerm: String?
    }

    struct WatchCreate: Encodable {
        var key: String
        var range_end: String?
        var start_revision: String?
        var progress_notify: Bool?
        var prev_kv: Bool?
    }

    struct WatchRequest: Encodable {
        var create_request: WatchCreate
    }

    struct Event: Decodable {
        var type: String?
        var kv: KeyValue?
        var prev_kv: KeyValue?
    }

    struct WatchResponse: Decodable {
        var header: Header?
        var created: Bool?
        var canceled: Bool?
        var compact_revision: String?
        var cancel_reason: String?
        var events: [Event]?
    }
}
