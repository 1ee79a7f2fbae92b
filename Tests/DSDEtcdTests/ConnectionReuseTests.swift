import DSDTestSupport
import Testing

@testable import DSDEtcd

extension EtcdProcessTests {
    /// Unary calls share keep-alive connections; a connection whose member restarted is
    /// dropped without the caller noticing.
    @Suite struct ConnectionReuseTests {
        @Test func sequentialCallsShareOneConnectionAndARestartedMemberIsReconnected() async throws {
            let fixture = try EtcdFixture()
            let client = fixture.client
            for index in 0..<20 { try await client.put("/reuse/\(index)".bytes, "v".bytes) }
            #expect(try await client.get("/reuse/7".bytes)?.value == "v".bytes)
            let txn = try await client.txn(
                [.absent("/reuse/new".bytes)], success: [.put(key: "/reuse/new".bytes, value: "1".bytes)])
            #expect(txn.succeeded)
            #expect(client.pool.openedCount.load(ordering: .relaxed) == 1)
            #expect(client.currentEndpoint == client.endpoints[0])

            // The restart closes the idle connection; the next calls, a put that must not be
            // sent twice among them, go to the same member on a new one, without an error.
            try fixture.cluster.restart(0)
            try await client.put("/reuse/after".bytes, "w".bytes)
            #expect(client.currentEndpoint == client.endpoints[0])
            #expect(try await client.get("/reuse/after".bytes)?.value == "w".bytes)
            #expect(client.pool.openedCount.load(ordering: .relaxed) == 2)
        }
    }
}
