import DSDEtcd
import Testing

extension EtcdProcessTests {
    /// Transactions: create-if-absent from two clients, and each compare target and result.
    @Suite struct TxnTests {
        @Test func createIfAbsentSucceedsOnceAcrossTwoClients() async throws {
            let fixture = try EtcdFixture()
            let other = try EtcdFixture.client(of: fixture.cluster, order: [2, 1, 0])
            let key = "/dsd/leader".bytes

            func campaign(_ client: EtcdClient, _ value: String) async throws -> TxnResponse {
                try await client.txn(
                    [.absent(key)], success: [.put(key: key, value: value.bytes)],
                    failure: [.range(RangeRequest(.key(key)))])
            }
            let first = try await campaign(fixture.client, "one")
            #expect(first.succeeded)
            guard case .put = try #require(first.answers.first) else {
                Issue.record("the success branch should answer a put: \(first.answers)")
                return
            }
            let second = try await campaign(other, "two")
            #expect(!second.succeeded)
            guard case .range(let found) = try #require(second.answers.first) else {
                Issue.record("the failure branch should answer a range: \(second.answers)")
                return
            }
            #expect(found.kvs.first?.value == "one".bytes)
            #expect(found.kvs.first?.createRevision == first.header.revision)
            #expect(second.header.revision == first.header.revision)
            #expect(try await other.get(key)?.value == "one".bytes)
        }

        @Test func comparesOnValueVersionAndRevisions() async throws {
            let fixture = try EtcdFixture()
            let client = fixture.client
            let key = "/k".bytes
            let created = try await client.put(key, "a".bytes).header.revision
            let modified = try await client.put(key, "b".bytes).header.revision

            func holds(_ compare: Compare) async throws -> Bool {
                try await client.txn([compare], success: []).succeeded
            }
            #expect(try await holds(Compare(key: key, .value("b".bytes), .equal)))
            #expect(try await holds(Compare(key: key, .value("a".bytes), .notEqual)))
            #expect(try await holds(Compare(key: key, .value("c".bytes), .less)))
            #expect(try await holds(Compare(key: key, .version(1), .greater)))
            #expect(try await !holds(Compare(key: key, .version(2), .notEqual)))
            #expect(try await holds(Compare(key: key, .createRevision(created), .equal)))
            #expect(try await holds(Compare(key: key, .modRevision(modified + 1), .less)))
            #expect(try await !holds(Compare(key: key, .modRevision(modified), .greater)))
            #expect(try await !holds(.absent(key)))
            #expect(try await holds(Compare(key: key, .lease(0), .equal)))

            // A guarded multi-operation write: applied together at one revision.
            let guarded = try await client.txn(
                [Compare(key: key, .modRevision(modified), .equal)],
                success: [.put(key: "/k2".bytes, value: "x".bytes), .delete(.key(key))])
            #expect(guarded.succeeded && guarded.answers.count == 2)
            guard case .delete(let deleted) = guarded.answers[1] else {
                Issue.record("the second answer should be a delete: \(guarded.answers)")
                return
            }
            #expect(deleted.deleted == 1)
            #expect(try await client.get(key) == nil)
            #expect(try await client.get("/k2".bytes)?.modRevision == guarded.header.revision)
        }
    }
}
