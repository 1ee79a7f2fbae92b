import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Testing

extension Integration {
    /// An agent that is not connected says why: in its log (at warning level, not once per
    /// retry), as `last_error` in status, and to a client that asks it something.
    @Suite struct ConnectionReasons {
        @Test(.timeLimit(.minutes(2)))
        func noDirectoryOnThePort() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            // No server: nothing listens on cluster.port.
            let agent = try cluster.startAgent("A")
            let address = "127.0.0.1:\(cluster.port)"
            let warned = eventually(within: .seconds(5), every: .milliseconds(20)) {
                agent.stderr.split(separator: "\n").contains { $0.contains("warning") && $0.contains(address) }
            }
            #expect(warned != nil, "the agent warns that it cannot connect: \(agent.stderr)")
            let status = cluster.status("A")
            let lastError = status["last_error"] ?? ""
            #expect(lastError.contains(address) && lastError.contains("refused"), "last_error: \(status)")

            let get = try cluster.command("A", ["get", testTable, "K"])
            #expect(get.stderr.contains("not synced with the directory yet"), "\(get)")
            #expect(get.status == 5, "not committed: \(get)")
            let find = try cluster.command("A", ["find", "MDS.1"])
            #expect(find.stderr.contains("not synced") && find.status == 5, "\(find)")
            let ls = try cluster.command("A", ["ls", testTable])
            #expect(ls.stderr.contains("not synced") && ls.status == 5, "\(ls)")

            // Retries every few hundred milliseconds; the same reason is logged once per interval.
            usleep(2_000_000)
            let warnings = agent.stderr.split(separator: "\n").filter { $0.contains("warning") && $0.contains(address) }
            #expect(warnings.count <= 2, "rate-limited: \(warnings.count) warnings\n\(agent.stderr)")
        }

        @Test(.timeLimit(.minutes(2)))
        func wrongClusterKey() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            let wrongKey = cluster.dir.file("wrong.key")
            try Cluster.keygen(into: wrongKey, in: cluster.dir)
            let agent = try cluster.startAgent("W", keyFile: wrongKey)
            let said = eventually(within: .seconds(5), every: .milliseconds(20)) {
                cluster.status("W")["last_error"]?.contains("cluster key") == true
            }
            #expect(said != nil, "last_error names the cluster key: \(cluster.status("W"))")
            #expect(
                agent.stderr.split(separator: "\n").contains { $0.contains("warning") && $0.contains("cluster key") },
                "the agent's log names the cluster key: \(agent.stderr)")
            let get = try cluster.command("W", ["get", testTable, "K"])
            #expect(get.stderr.contains("not synced") && get.status == 5, "\(get)")
        }
    }
}
