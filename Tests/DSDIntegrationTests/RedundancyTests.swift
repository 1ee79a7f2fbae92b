import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Synchronization
import Testing

/// Directories on etcd (`dsd server --etcd`): several servers, all serving agents, one master.
extension Integration {
    @Suite struct Redundancy {
        static let metadata = StandardTable.metadata.name
        static let routes = StandardTable.hostRoute.name

        /// Puts `entry` through `host`'s agent, retrying until it is acknowledged or `limit`
        /// passes; returns how long it took.
        static func putUntilAcknowledged(
            _ rc: RedundantCluster, _ host: String, table: String = testTable, _ entry: Entry,
            within limit: Duration = .seconds(10)
        ) -> Duration? {
            eventually(within: limit, every: .milliseconds(10)) {
                guard let client = try? rc.cluster.client(host, timeout: .seconds(5)) else { return false }
                return (try? client.put(table: table, entry: entry)) != nil
            }
        }

        @Test(.timeLimit(.minutes(2)))
        func everyServerServesTheSameDirectory() throws {
            let rc = try RedundantCluster()
            defer { rc.stopAll() }
            try rc.startServer(0)
            try rc.startServer(1)
            try rc.cluster.startAgent("A", server: rc.serverList(startingAt: 0))
            try rc.cluster.startAgent("B", server: rc.serverList(startingAt: 1))
            #expect(rc.cluster.waitConnected(["A", "B"]) != nil, "agents connect\n\(rc.logs())")
            #expect(rc.cluster.status("A")["directory"] == "127.0.0.1:\(rc.serverPorts[0])")
            #expect(rc.cluster.status("B")["directory"] == "127.0.0.1:\(rc.serverPorts[1])")

            // A write through either server is read back on the other host.
            let a = try rc.cluster.client("A")
            let b = try rc.cluster.client("B")
            try a.put(table: testTable, entry: Entry(key: "GW.1", value: "HOST1:1"))
            try b.put(table: testTable, entry: Entry(key: "GW.2", value: "HOST2:1"))
            #expect(
                eventually(within: .seconds(3)) { rc.cluster.entry("B", testTable, "GW.1")?.value == "HOST1:1" } != nil)
            #expect(
                eventually(within: .seconds(3)) { rc.cluster.entry("A", testTable, "GW.2")?.value == "HOST2:1" } != nil)
            // The writer reads its own write at once, on its own host.
            try a.put(table: testTable, entry: Entry(key: "GW.3", value: "HOST3:1"))
            #expect(rc.cluster.entry("A", testTable, "GW.3")?.value == "HOST3:1")

            // Validation holds in etcd: the same table created through both servers at once
            // is created once; two different tables both get created, with different ids.
            let sockets = [rc.cluster.socket("A"), rc.cluster.socket("B")]
            for round in 0..<5 {
                let outcomes = Mutex<[String]>([])
                _ = onThreads(2, limit: .seconds(20)) { worker in
                    let client = try? AgentClient(socketPath: sockets[worker], timeout: .seconds(10))
                    let same = Result { () throws(ClientError) in _ = try client?.createTable("SAME\(round)") }
                    let own = Result { () throws(ClientError) in _ = try client?.createTable("OWN\(round)W\(worker)") }
                    outcomes.withLock { $0.append("same:\(Self.kind(same)) own:\(Self.kind(own))") }
                }
                let seen = outcomes.withLock { $0 }
                #expect(
                    seen.filter { $0.hasPrefix("same:ok") }.count == 1, "exactly one create of SAME\(round): \(seen)")
                #expect(seen.filter { $0.hasPrefix("same:tableExists") }.count == 1, "\(seen)")
                #expect(seen.allSatisfy { $0.hasSuffix("own:ok") }, "both OWN tables created: \(seen)")
            }
            #expect(
                eventually(within: .seconds(3)) { rc.cluster.status("A")["tables"] == rc.cluster.status("B")["tables"] }
                    != nil)
            #expect(rc.cluster.status("A")["tables"] == "\(8 + 5 * 3)")

            // A delete of a missing key is refused, by etcd's compare if not before.
            #expect(throws: ClientError.self) { try a.delete(table: testTable, key: "GW.404") }
            // A table with entries is not dropped without --force; an empty one is.
            try b.put(table: "OWN0W0", entry: Entry(key: "k", value: "v"))
            let drop = try rc.cluster.command("A", ["rmtable", "OWN0W0"])
            #expect(drop.status != 0 && drop.stderr.contains("not empty"), "\(drop)")
            let dropEmpty = try rc.cluster.command("A", ["rmtable", "OWN0W1"])
            #expect(dropEmpty.status == 0, "\(dropEmpty)")
            let versionA = rc.cluster.status("A")["version"]
            #expect(eventually(within: .seconds(3)) { rc.cluster.status("B")["version"] == versionA } != nil)
        }

        static func kind(_ result: Result<Void, ClientError>) -> String {
            switch result {
            case .success: "ok"
            case .failure(.failed(let code, _)): "\(code)"
            case .failure(let error): "\(error)"
            }
        }

        /// A server dies: its agents move to the other one within a second, resume with a
        /// delta (no second snapshot), and their writes succeed again.
        @Test(.timeLimit(.minutes(2)))
        func agentsResumeOnAnotherServerWithADelta() throws {
            let rc = try RedundantCluster()
            defer { rc.stopAll() }
            try rc.startServer(0)
            try rc.startServer(1)
            try rc.cluster.startAgent("A", server: rc.serverList(startingAt: 0))
            #expect(rc.cluster.waitConnected(["A"]) != nil)
            for i in 0..<20 {
                try rc.cluster.client("A").put(table: testTable, entry: Entry(key: "K\(i)", value: "v\(i)"))
            }
            #expect(rc.cluster.status("A")["snapshots_received"] == "1")

            let killed = ContinuousClock.now
            rc.kill(0)
            let back = Self.putUntilAcknowledged(rc, "A", Entry(key: "AFTER", value: "v"))
            let took = ContinuousClock.now - killed
            print(
                "[redundancy] a write through the agent of a SIGKILLed server succeeded after \(milliseconds(took)) ms")
            #expect(back != nil && took < .seconds(1), "write within 1 s of the kill (took \(took))\n\(rc.logs())")
            let status = rc.cluster.status("A")
            #expect(status["directory"] == "127.0.0.1:\(rc.serverPorts[1])")
            #expect(status["snapshots_received"] == "1", "resumed with a delta: \(status)")
            #expect(rc.cluster.entry("A", testTable, "K19")?.value == "v19")
        }

        /// etcd loses one member: nothing is interrupted. It loses quorum: writes fail with
        /// exit 5 (at once after the first), reads go on. Quorum back: writes resume, nothing
        /// restarted.
        @Test(.timeLimit(.minutes(3)))
        func writesFailClearlyWithoutQuorumAndResumeAfter() throws {
            let rc = try RedundantCluster()
            defer { rc.stopAll() }
            try rc.startServer(0)
            try rc.startServer(1)
            try rc.cluster.startAgent("A", server: rc.serverList(startingAt: 0))
            #expect(rc.cluster.waitConnected(["A"]) != nil)
            #expect(try rc.cluster.command("A", ["put", testTable, "K0", "v0"]).status == 0)

            rc.etcd.kill(0)
            let one = try rc.cluster.command("A", ["put", testTable, "K1", "v1"])
            print("[redundancy] a put with one etcd member of three SIGKILLed took \(milliseconds(one.elapsed)) ms")
            #expect(one.status == 0, "one member down changes nothing: \(one)\n\(rc.logs())")

            rc.etcd.kill(1)
            let first = try rc.cluster.command("A", ["put", testTable, "K2", "v2"])
            #expect(first.status == 5, "no quorum: not committed, exit 5: \(first)")
            #expect(first.stderr.contains("etcd"), "the error names etcd: \(first.stderr)")
            let second = try rc.cluster.command("A", ["put", testTable, "K3", "v3"])
            #expect(second.status == 5 && second.stderr.contains("etcd"), "\(second)")
            print(
                "[redundancy] without quorum: the first put failed after \(milliseconds(first.elapsed)) ms, the next after \(milliseconds(second.elapsed)) ms"
            )
            #expect(second.elapsed < .milliseconds(500), "once the outage is known, writes fail at once")
            let read = try rc.cluster.command("A", ["get", testTable, "K1"])
            #expect(read.status == 0 && read.stdout.hasPrefix("v1 1"), "reads go on: \(read)")
            #expect(
                rc.servers[0]?.stderr.contains("etcd is unavailable") ?? false,
                "the agent's server logs the outage, naming etcd\n\(rc.logs())")

            let restored = ContinuousClock.now
            try rc.etcd.restart(0)
            try rc.etcd.restart(1)
            let back = Self.putUntilAcknowledged(rc, "A", Entry(key: "K4", value: "v4"), within: .seconds(20))
            print(
                "[redundancy] quorum back: a put succeeded \(milliseconds(ContinuousClock.now - restored)) ms after the members were restarted"
            )
            #expect(back != nil, "writes resume with nothing restarted\n\(rc.logs())")
            #expect(rc.servers.allSatisfy { $0?.isRunning ?? false })
            #expect(eventually(within: .seconds(5)) { rc.cluster.entry("A", testTable, "K4") != nil } != nil)
        }
    }
}
