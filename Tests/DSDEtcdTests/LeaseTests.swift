import DSDEtcd
import DSDTestSupport
import Testing

extension EtcdProcessTests {
    /// Leases: a key bound to a lease lives while it is renewed and goes after its TTL once
    /// renewals stop.
    @Suite struct LeaseTests {
        @Test func keepaliveKeepsTheKeyAndItGoesAfterTheTTLWhenRenewalsStop() async throws {
            let fixture = try EtcdFixture()
            let client = fixture.client
            let lease = try await client.grantLease(ttl: 2)
            #expect(lease.id != 0 && lease.ttl == 2)
            let key = "/dsd/servers/a".bytes
            try await client.put(key, "alive".bytes, lease: lease.id)
            #expect(try await client.get(key)?.lease == lease.id)

            // Renewed every 500 ms for twice the TTL: still there.
            let renewing = ContinuousClock.now
            while ContinuousClock.now - renewing < .seconds(4) {
                #expect(try await client.keepAlive(lease: lease.id) == 2)
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(try await client.get(key)?.value == "alive".bytes)
            let live = try #require(try await client.timeToLive(lease: lease.id, keys: true))
            #expect(live.grantedTTL == 2 && live.ttl <= 2 && live.keys == [key])

            // No more renewals: gone within the TTL plus etcd's expiry check (every 500 ms).
            let stopped = ContinuousClock.now
            while try await client.get(key) != nil {
                #expect(ContinuousClock.now - stopped < .seconds(4), "the key outlived its lease")
                if ContinuousClock.now - stopped >= .seconds(4) { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(ContinuousClock.now - stopped >= .milliseconds(1500), "the key went before its TTL")
            #expect(try await client.keepAlive(lease: lease.id) == nil)
            #expect(try await client.timeToLive(lease: lease.id) == nil)
        }

        @Test func revokeDeletesTheKeysAndASecondRevokeIsRefused() async throws {
            let fixture = try EtcdFixture()
            let client = fixture.client
            let lease = try await client.grantLease(ttl: 30)
            try await client.put("/a".bytes, "1".bytes, lease: lease.id)
            try await client.revokeLease(lease.id)
            #expect(try await client.get("/a".bytes) == nil)
            let error = await #expect(throws: EtcdError.self) { try await client.revokeLease(lease.id) }
            guard case .rejected(.leaseRevoke, _, .leaseNotFound) = error else {
                Issue.record("expected lease-not-found, got \(String(describing: error))")
                return
            }
            let putError = await #expect(throws: EtcdError.self) {
                try await client.put("/b".bytes, "1".bytes, lease: lease.id)
            }
            guard case .rejected(.put, _, .leaseNotFound) = putError else {
                Issue.record("expected lease-not-found for a put, got \(String(describing: putError))")
                return
            }
        }
    }
}
