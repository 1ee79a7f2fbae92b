import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Testing

extension Integration {
    /// An agent killed and restarted with its replica cache resumes with a delta; started while
    /// the directory is down it serves the cached replica as stale and refuses writes at once.
    @Suite struct AgentRestart {
        @Test(.timeLimit(.minutes(2)))
        func restartedAgentResumesFromItsVersionWithADelta() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            try cluster.startAgent("B", withCache: true)
            #expect(cluster.waitConnected(["A", "B"]) != nil, "agents connect\n\(cluster.logs())")

            let a = try cluster.client("A")
            for i in 0..<50 { try a.put(table: testTable, entry: Entry(key: "IT.R\(i)", value: "HOST\(i):1")) }
            #expect(eventually(within: .seconds(2)) { cluster.entry("B", testTable, "IT.R49") != nil } != nil)
            let first = cluster.status("B")
            #expect(first["snapshots_received"] == "1", "a fresh agent starts from a snapshot: \(first)")
            // The cache is rewritten once a second when the replica changed.
            usleep(2_500_000)
            let cachedVersion = try #require(Version(text: first["version"] ?? ""))

            cluster.agents["B"]?.kill()
            for i in 50..<80 { try a.put(table: testTable, entry: Entry(key: "IT.R\(i)", value: "HOST\(i):1")) }
            try a.delete(table: testTable, key: "IT.R0")
            let target = try #require(Version(text: cluster.status("A")["version"] ?? ""))

            let restart = ContinuousClock.now
            try cluster.startAgent("B", withCache: true)
            let caughtUp = cluster.waitVersion("B", atLeast: target, within: .seconds(10))
            #expect(caughtUp != nil, "restarted B catches up to \(target)\n\(cluster.logs())")
            print(
                "[integration] agent restart with cache: caught up in \(milliseconds(ContinuousClock.now - restart)) ms"
            )
            let resumed = cluster.status("B")
            #expect(resumed["snapshots_received"] == "0", "resumed with a delta, not a snapshot: \(resumed)")
            let changes = Int(resumed["changes_received"] ?? "") ?? -1
            let missed = Int(target.index - cachedVersion.index)
            #expect(
                changes >= 31 && changes <= missed, "received the \(missed) changes made while down, got \(changes)")
            #expect(cluster.entry("B", testTable, "IT.R79")?.value == "HOST79:1")
            #expect(cluster.entry("B", testTable, "IT.R0") == nil, "the delete made while B was down arrived")
        }

        @Test(.timeLimit(.minutes(2)))
        func agentStartedWhileDirectoryIsDownServesStaleCacheAndRefusesWrites() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("B", withCache: true)
            #expect(cluster.waitConnected(["B"]) != nil, "B connects\n\(cluster.logs())")
            let b = try cluster.client("B")
            try b.put(table: testTable, entry: Entry(key: "IT.CACHED", value: "HOST3:33"))
            usleep(2_500_000)  // let the cache be written

            cluster.server?.kill()
            cluster.agents["B"]?.kill()
            try cluster.startAgent("B", withCache: true)

            let status = cluster.status("B")
            #expect(status["state"] == "stale", "status says stale: \(status)")
            let get = try cluster.command("B", ["get", testTable, "IT.CACHED"])
            #expect(get.status == 0 && get.stdout == "HOST3:33 1\n", "cached replica served: \(get)")
            let put = try cluster.command("B", ["put", testTable, "IT.NEW", "HOST4:44"])
            #expect(put.status == 5, "a write without the directory exits 5: \(put)")
            #expect(put.elapsed < .seconds(2), "and fails fast: \(milliseconds(put.elapsed)) ms")
            print("[integration] write on stale agent failed in \(milliseconds(put.elapsed)) ms (incl. process start)")
            let status2 = try cluster.command("B", ["status"])
            #expect(status2.lines.contains("state: stale"), "dsd status prints the state: \(status2)")

            // The directory comes back on the same data: B reconnects by itself and resumes from
            // the cached version with a delta.
            try cluster.startServer()
            #expect(cluster.waitConnected(["B"], within: .seconds(15)) != nil, "B reconnects\n\(cluster.logs())")
            let back = cluster.status("B")
            #expect(back["snapshots_received"] == "0", "resumed from the cache without a snapshot: \(back)")
            let retry = try cluster.command("B", ["put", testTable, "IT.NEW", "HOST4:44"])
            #expect(retry.status == 0, "writes work again: \(retry)")
            #expect(cluster.entry("B", testTable, "IT.NEW")?.value == "HOST4:44")
        }
    }
}
