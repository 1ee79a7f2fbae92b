import NIOCore
import Testing

@testable import DSDEtcd

/// The failover machine, endpoint parsing, key ranges and the wire's decoding, without etcd.
@Suite struct FailoverMachineTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var deadline: NIODeadline { start + .seconds(3) }

    func machine(preferred: Int = 1) -> Failover {
        Failover(count: 3, preferred: preferred, deadline: deadline, retryPause: .milliseconds(100))
    }

    /// Transition table: starting at the preferred member, one round, a pause, another round.
    @Test func aRoundOfRetryableFailuresPausesThenGoesRoundAgain() {
        var failover = machine()
        var now = start
        #expect(failover.onStart(now: now) == .attempt(1))
        #expect(failover.onFailure(retryable: true, now: now) == .attempt(2))
        #expect(failover.onFailure(retryable: true, now: now) == .attempt(0))
        now = now + .milliseconds(10)
        #expect(failover.onFailure(retryable: true, now: now) == .pause(until: now + .milliseconds(100)))
        now = now + .milliseconds(100)
        #expect(failover.onPaused(now: now) == .attempt(1))
        #expect(failover.onFailure(retryable: true, now: now) == .attempt(2))
    }

    @Test func aFailureThatMayHaveActedEndsTheCall() {
        var failover = machine()
        #expect(failover.onStart(now: start) == .attempt(1))
        #expect(failover.onFailure(retryable: false, now: start) == .fail)
    }

    @Test func theDeadlineEndsTheCall() {
        var failover = machine(preferred: 0)
        #expect(failover.onStart(now: start) == .attempt(0))
        #expect(failover.onFailure(retryable: true, now: deadline) == .fail)
        var late = machine()
        _ = late.onStart(now: start)
        _ = late.onFailure(retryable: true, now: start)
        _ = late.onFailure(retryable: true, now: start)
        // A pause that would end past the deadline is not taken.
        #expect(late.onFailure(retryable: true, now: deadline - .milliseconds(50)) == .fail)
        var expired = machine()
        #expect(expired.onStart(now: deadline) == .fail)
    }
}

@Suite struct WireTests {
    @Test func endpointsParse() {
        #expect(EtcdEndpoint(url: "http://127.0.0.1:2379") == EtcdEndpoint(host: "127.0.0.1", port: 2379))
        #expect(EtcdEndpoint(url: "http://etcd1/") == EtcdEndpoint(host: "etcd1", port: 2379))
        #expect(EtcdEndpoint(url: "http://[::1]:23790")?.description == "http://[::1]:23790")
        for bad in ["https://h:1", "h:1", "http://", "http://h:0", "http://h:70000", "http://h:1/v3", "http://h:x"] {
            #expect(EtcdEndpoint(url: bad) == nil, "\(bad)")
        }
        #expect(EtcdEndpoint.list("http://a:1, http://b:2")?.map(\.port) == [1, 2])
        #expect(EtcdEndpoint.list("http://a:1,b:2") == nil)
        #expect(EtcdEndpoint.list("") == nil)
    }

    @Test func prefixEnds() {
        #expect(KeyRange.prefixEnd([0x61, 0x62]) == [0x61, 0x63])
        #expect(KeyRange.prefixEnd([0x61, 0xff, 0xff]) == [0x62])
        #expect(KeyRange.prefixEnd([0xff]) == [0])
        #expect(KeyRange.prefixEnd([]) == [0])
    }

    /// A PUT event has no `type` (the default is omitted); a DELETE carries only the key and
    /// the delete's revision; integers are strings.
    @Test func watchResponsesDecode() throws {
        let json = """
            {"header":{"revision":"5"},"events":[{"kv":{"key":"Zm9v","create_revision":"4","mod_revision":"4",\
            "version":"1","value":"YmFy"}},{"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"5"}}]}
            """
        let response = try JSONDecoderForTests.decode(Wire.WatchResponse.self, json)
        let update = try EtcdWatch.Iterator.update(response)
        let put = WatchEvent(
            kind: .put,
            kv: KeyValue(
                key: [0x66, 0x6f, 0x6f], value: [0x62, 0x61, 0x72], createRevision: 4, modRevision: 4, version: 1),
            previous: nil)
        let delete = WatchEvent(kind: .delete, kv: KeyValue(key: [0x66, 0x6f, 0x6f], modRevision: 5), previous: nil)
        #expect(update == .events([put, delete], revision: 5))
        let compacted = try JSONDecoderForTests.decode(
            Wire.WatchResponse.self, #"{"header":{},"canceled":true,"compact_revision":"2"}"#)
        #expect(try EtcdWatch.Iterator.update(compacted) == .compacted(compactRevision: 2))
        let bad = try JSONDecoderForTests.decode(Wire.WatchResponse.self, #"{"header":{"revision":"x"}}"#)
        #expect(throws: WireProblem.self) { try EtcdWatch.Iterator.update(bad) }
    }

    @Test func errorAnswersAreSorted() {
        func verdict(_ status: Int, _ code: Int, _ message: String, _ operation: EtcdOperation = .put)
            -> ErrorAnswer.Verdict
        {
            ErrorAnswer(message: message, error: message, code: code).verdict(status: status, operation: operation)
        }
        #expect(verdict(503, 14, "etcdserver: no leader") == .retry(.noLeader))
        #expect(
            verdict(503, 14, "etcdserver: request timed out") == .stop(.unavailable("etcdserver: request timed out")))
        #expect(
            verdict(503, 14, "etcdserver: request timed out", .range)
                == .retry(.unavailable("etcdserver: request timed out")))
        #expect(verdict(400, 11, "etcdserver: mvcc: required revision has been compacted") == .reject(.compacted))
        #expect(verdict(404, 5, "etcdserver: requested lease not found") == .reject(.leaseNotFound))
        #expect(
            verdict(400, 3, "etcdserver: too many operations in txn request")
                == .reject(.other(status: 400, code: 3, message: "etcdserver: too many operations in txn request")))
    }

    @Test func errorsAreSentences() {
        let endpoint = EtcdEndpoint(host: "10.0.0.1", port: 2379)
        let error = EtcdError.unavailable(
            .txn, attempts: [.init(endpoint, .cannotConnect(errno: 111)), .init(endpoint, .timedOut)])
        #expect(
            error.description
                == "etcd is unavailable: the transaction failed at every member tried (http://10.0.0.1:2379: cannot "
                + "connect (Connection refused), then no answer within the request timeout); the "
                + "transaction may have been applied")
        #expect(error.outcomeUnknown && error.isUnavailable)
        // Thirty rounds of refusals read as one phrase per member, not thirty.
        let other = EtcdEndpoint(host: "10.0.0.2", port: 2379)
        let rounds = EtcdError.unavailable(
            .put,
            attempts: (0..<30).flatMap { _ in [.init(endpoint, .noLeader), .init(other, .cannotConnect(errno: 111))] })
        #expect(
            rounds.description
                == "etcd is unavailable: the put failed at every member tried (http://10.0.0.1:2379: the member has no "
                + "leader (etcd has lost quorum or is electing one) ×30; http://10.0.0.2:2379: cannot connect "
                + "(Connection refused) ×30)")
        let refused = EtcdError.rejected(.leaseRevoke, endpoint: endpoint, .leaseNotFound)
        #expect(
            refused.description
                == "etcd at http://10.0.0.1:2379 refused the lease revoke: the lease does not exist (expired or revoked)"
        )
    }
}

/// An answer whose JSON does not fit is described by the field that did not fit.
@Suite struct JSONProblemTests {
    struct Shape: Decodable {
        struct Inner: Decodable { let revision: Int }
        let header: Inner
    }

    static func problem(_ text: String) -> String {
        do {
            _ = try JSONDecoderForTests.decode(Shape.self, text)
            return "decoded"
        } catch {
            return EtcdClient.jsonProblem(error)
        }
    }

    @Test func namesTheFieldAndNeverDumpsTheDecoder() {
        #expect(Self.problem(#"{}"#) == "the field header is missing")
        #expect(Self.problem(#"{"header":{}}"#) == "the field header.revision is missing")
        #expect(Self.problem(#"{"header":{"revision":"x"}}"#) == "the field header.revision has the wrong type")
        #expect(Self.problem("<html>") == "it is not JSON")
    }
}
