import DSDEtcd
import DSDTestSupport
import Testing

extension EtcdProcessTests {
    /// Members SIGKILLed under a client: one lost is invisible to it, two lost is a quick typed
    /// failure, and the same client works again once they are back.
    @Suite struct FailoverTests {
        /// Index of a member that is not the leader.
        static func follower(_ fixture: EtcdFixture) async throws -> Int {
            let status = try await fixture.client.status(of: fixture.client.endpoints[0])
            for index in fixture.cluster.members.indices {
                let member = try await fixture.client.status(of: fixture.client.endpoints[index])
                if member.header.memberID != status.leader { return index }
            }
            throw HarnessError("no follower found")
        }

        @Test func oneMemberKilledRequestsStillSucceed() async throws {
            let fixture = try EtcdFixture()
            let victim = try await Self.follower(fixture)
            let client = try EtcdFixture.client(
                of: fixture.cluster, order: [victim] + [0, 1, 2].filter { $0 != victim })
            try await client.put("/before".bytes, "1".bytes)
            #expect(client.currentEndpoint == client.endpoints[0])

            fixture.cluster.kill(victim)
            let start = ContinuousClock.now
            let put = try await client.put("/after".bytes, "2".bytes)
            #expect(ContinuousClock.now - start < .seconds(1))
            #expect(put.header.revision > 0)
            #expect(client.currentEndpoint != client.endpoints[0])
            #expect(try await client.get("/before".bytes)?.value == "1".bytes)
            let txn = try await client.txn(
                [.absent("/new".bytes)], success: [.put(key: "/new".bytes, value: "3".bytes)])
            #expect(txn.succeeded)
            let lease = try await client.grantLease(ttl: 5)
            #expect(try await client.keepAlive(lease: lease.id) == 5)
            // A watch opens on a live member too.
            let created = try await client.watch(WatchRequest(.prefix("/"))) { watch in
                var iterator = watch.makeAsyncIterator()
                return try await iterator.next()
            }
            guard case .created = created else {
                Issue.record("the watch did not open: \(String(describing: created))")
                return
            }
        }

        @Test func twoMembersKilledAWriteFailsQuicklyAndSucceedsOnceTheyAreBack() async throws {
            let fixture = try EtcdFixture()
            let client = fixture.client
            try await client.put("/k".bytes, "1".bytes)

            fixture.cluster.kill(0)
            fixture.cluster.kill(1)
            let start = ContinuousClock.now
            let error = await #expect(throws: EtcdError.self) { try await client.put("/k".bytes, "2".bytes) }
            let elapsed = ContinuousClock.now - start
            #expect(elapsed <= client.settings.requestTimeout + .milliseconds(500), "took \(elapsed)")
            let failure = try #require(error)
            #expect(failure.isUnavailable, "\(failure)")
            guard case .unavailable(.put, let attempts) = failure else {
                Issue.record("expected unavailable, got \(failure)")
                return
            }
            // The dead members are named; so is the live one, which has no quorum.
            #expect(Set(attempts.map(\.endpoint)) == Set(client.endpoints), "\(attempts)")
            #expect(failure.description.hasPrefix("etcd is unavailable: the put failed at every member tried"))
            #expect(failure.description.contains(fixture.cluster.members[0].clientURL))

            try fixture.cluster.restart(0)
            try fixture.cluster.restart(1)
            let put = try await client.put("/k".bytes, "3".bytes)
            #expect(put.header.revision > 0)
            #expect(try await client.get("/k".bytes)?.value == "3".bytes)
        }
    }
}
