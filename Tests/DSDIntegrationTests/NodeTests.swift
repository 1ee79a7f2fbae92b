import DSDClient
import DSDCore
import DSDTestSupport
import DSDWire
import Foundation
import Testing

/// The hierarchy (FIG. 7): a `dsd node` between the directory and agents.
extension Integration {
    @Suite struct Node {
        /// Starts `dsd node` below the cluster's directory and waits until it listens and has
        /// synced.
        static func startNode(
            _ cluster: Cluster, port: Int, name: String = "NODE1", upstream: Int? = nil, keyFile: String? = nil,
            waitForSync: Bool = true, extraArguments: [String] = []
        ) throws -> ChildProcess {
            let child = try ChildProcess(
                name: "node-\(name)", executable: cluster.dsd,
                arguments: [
                    "node", "--upstream", "127.0.0.1:\(upstream ?? cluster.port)", "--listen", "127.0.0.1:\(port)",
                    "--cluster-key", keyFile ?? cluster.keyFile, "--socket", cluster.dir.file("\(name).sock"),
                    "--host", name,
                ] + extraArguments,
                logDirectory: cluster.dir.path)
            let up = eventually(within: .seconds(10), every: .milliseconds(10)) {
                !child.isRunning
                    || (child.stderr.contains("node listening")
                        && (!waitForSync || child.stderr.contains("snapshot applied")))
            }
            guard up != nil, child.isRunning else { throw HarnessError("node did not start: \(child.stderr)") }
            return child
        }

        /// Writes through an agent below a node reach the agents on the directory and back;
        /// versions are the directory's; the node's death moves its agent to the directory,
        /// which resumes it with a delta.
        @Test(.timeLimit(.minutes(2)))
        func agentsBelowANodeShareTheDirectory() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            let nodePort = try freeLoopbackPort()
            let node = try Self.startNode(cluster, port: nodePort)
            defer { node.kill() }
            try cluster.startAgent("A")
            try cluster.startAgent("B", server: "127.0.0.1:\(nodePort),127.0.0.1:\(cluster.port)")
            #expect(cluster.waitConnected(["A", "B"]) != nil, "\(cluster.logs())\n\(node.stderr)")
            #expect(cluster.status("B")["directory"] == "127.0.0.1:\(nodePort)", "B is below the node")

            let a = try cluster.client("A")
            let b = try cluster.client("B")
            try b.put(table: testTable, entry: Entry(key: "GW.B1", value: "HOST2:1"))
            #expect(cluster.entry("B", testTable, "GW.B1")?.value == "HOST2:1", "the writer reads its own write")
            #expect(eventually(within: .seconds(3)) { cluster.entry("A", testTable, "GW.B1") != nil } != nil)
            try a.put(table: testTable, entry: Entry(key: "GW.A1", value: "HOST1:1"))
            #expect(eventually(within: .seconds(3)) { cluster.entry("B", testTable, "GW.A1") != nil } != nil)
            // A refusal from the directory comes back through the node.
            #expect(throws: ClientError.self) { try b.delete(table: testTable, key: "GW.404") }
            let version = cluster.status("A")["version"]
            #expect(
                eventually(within: .seconds(3)) { cluster.status("B")["version"] == version } != nil,
                "versions pass through the node unchanged")
            #expect(cluster.status("B")["snapshots_received"] == "1")
            // The node publishes itself, valid while it lives.
            #expect(
                eventually(within: .seconds(5)) {
                    cluster.entry("A", "DSD_NODES", "NODE1") == Entry(key: "NODE1", value: "127.0.0.1:\(nodePort)")
                } != nil, "DSD_NODES NODE1 → its address\n\(node.stderr)")

            node.kill()
            let killed = ContinuousClock.now
            let back = eventually(within: .seconds(5), every: .milliseconds(10)) {
                (try? cluster.client("B").put(table: testTable, entry: Entry(key: "GW.B2", value: "HOST2:2"))) != nil
            }
            let took = ContinuousClock.now - killed
            print("[node] a write through the agent of a SIGKILLed node succeeded after \(milliseconds(took)) ms")
            #expect(back != nil && took < .seconds(1), "the agent continues through the directory within 1 s")
            let status = cluster.status("B")
            #expect(status["directory"] == "127.0.0.1:\(cluster.port)")
            #expect(status["snapshots_received"] == "1", "resumed from the node's version with a delta: \(status)")
            #expect(cluster.entry("B", testTable, "GW.A1") != nil)
            #expect(
                eventually(within: .seconds(5)) { cluster.entry("A", "DSD_NODES", "NODE1")?.valid == false } != nil,
                "a dead node's entry turns invalid everywhere")
        }

        /// Three levels (directory → node → node → agent) carry writes both ways with the
        /// directory's versions; a node with the wrong cluster key is refused and learns nothing.
        @Test(.timeLimit(.minutes(2)))
        func threeLevelsAndAWrongKey() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            let ports = [try freeLoopbackPort(), try freeLoopbackPort(), try freeLoopbackPort()]
            let first = try Self.startNode(cluster, port: ports[0], name: "NODE1")
            defer { first.kill() }
            let second = try Self.startNode(cluster, port: ports[1], name: "NODE2", upstream: ports[0])
            defer { second.kill() }
            try cluster.startAgent("A")
            try cluster.startAgent("C", server: "127.0.0.1:\(ports[1])")
            #expect(cluster.waitConnected(["A", "C"]) != nil, "\(cluster.logs())\n\(second.stderr)")
            try cluster.client("C").put(table: testTable, entry: Entry(key: "GW.C1", value: "HOST3:1"))
            #expect(eventually(within: .seconds(3)) { cluster.entry("A", testTable, "GW.C1") != nil } != nil)
            // A batch goes up two nodes and comes down as one change, the writer's own at once.
            let writes = (0..<300).map {
                BatchWrite.put(table: testTable, Entry(key: "GW.B\($0)", value: "HOST3:\($0)"))
            }
            let committed = try #require(try cluster.client("C").batch(writes))
            #expect(cluster.entry("C", testTable, "GW.B299")?.value == "HOST3:299")
            #expect(cluster.waitVersion("A", atLeast: committed, within: .seconds(3)) != nil)
            #expect(try cluster.client("A").list(table: testTable, prefix: "GW.B").count == 300)
            try cluster.client("A").put(table: testTable, entry: Entry(key: "GW.A1", value: "HOST1:1"))
            #expect(eventually(within: .seconds(3)) { cluster.entry("C", testTable, "GW.A1") != nil } != nil)
            let version = cluster.status("A")["version"]
            #expect(eventually(within: .seconds(3)) { cluster.status("C")["version"] == version } != nil)

            let wrongKey = cluster.dir.file("wrong.key")
            try Cluster.keygen(into: wrongKey, in: cluster.dir)
            let stranger = try Self.startNode(
                cluster, port: ports[2], name: "NODE3", keyFile: wrongKey, waitForSync: false)
            defer { stranger.kill() }
            let refused = eventually(within: .seconds(5)) { stranger.stderr.contains("cluster key") }
            #expect(refused != nil, "the node says why it is refused:\n\(stranger.stderr)")
            let status =
                (try? AgentClient(socketPath: cluster.dir.file("NODE3.sock"), timeout: .seconds(2)).status())
                .map { Dictionary($0, uniquingKeysWith: { $1 }) } ?? [:]
            #expect(status["entries"] == "0" && status["state"] != "connected", "it learned nothing: \(status)")
        }

        /// The node probes the routes of the agents attached to it and commits their validity
        /// upward: every host sees a stopped host's route invalid, then valid again.
        @Test(.timeLimit(.minutes(2)))
        func theNodeProbesTheRoutesOfItsAgents() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            let nodePort = try freeLoopbackPort()
            let node = try Self.startNode(
                cluster, port: nodePort, extraArguments: ["--probe-interval-ms", "100", "--probe-misses", "3"])
            defer { node.kill() }
            try cluster.startAgent("OBS")
            let probed = try cluster.startAgent(
                "HOST5", server: "127.0.0.1:\(nodePort)",
                extraArguments: ["--route", "127.0.0.1", "--probe-port", "\(try freeLoopbackPort())"])
            #expect(cluster.waitConnected(["OBS", "HOST5"]) != nil)
            let routes = StandardTable.hostRoute.name
            #expect(
                eventually(within: .seconds(5)) { cluster.entry("OBS", routes, "HOST5.0")?.valid == true } != nil,
                "the node puts the announced route\n\(node.stderr)")
            probed.signal(SIGSTOP)
            let stopped = ContinuousClock.now
            let down = eventually(within: .seconds(5), every: .milliseconds(20)) {
                cluster.entry("OBS", routes, "HOST5.0")?.valid == false
            }
            print(
                "[node] a stopped host's route invalid on the directory's agents after \(milliseconds(ContinuousClock.now - stopped)) ms"
            )
            #expect(down != nil, "the node marks the silent route invalid\n\(node.stderr)")
            probed.signal(SIGCONT)
            #expect(
                eventually(within: .seconds(5)) { cluster.entry("OBS", routes, "HOST5.0")?.valid == true } != nil,
                "and valid again once it answers")
        }

        /// A server whose heartbeats stop under one node is invalid, and its backup promoted,
        /// on the hosts under another node within Time_Max + 100 ms.
        @Test(.timeLimit(.minutes(2)))
        func aFailureUnderOneNodeIsSeenUnderAnother() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            let ports = [try freeLoopbackPort(), try freeLoopbackPort()]
            let first = try Self.startNode(cluster, port: ports[0], name: "NODE1")
            defer { first.kill() }
            let second = try Self.startNode(cluster, port: ports[1], name: "NODE2")
            defer { second.kill() }
            try cluster.startAgent("UNDER1", server: "127.0.0.1:\(ports[0])")
            try cluster.startAgent("UNDER2", server: "127.0.0.1:\(ports[1])")
            #expect(cluster.waitConnected(["UNDER1", "UNDER2"]) != nil)
            let metadata = StandardTable.metadata.name
            let writer = try cluster.client("UNDER2")
            for (key, value) in [("MDS.8.1", "HOST9:1"), ("MDS.8.2", "HOST8:1"), ("MDS.8", "HOST9:1")] {
                try writer.put(table: metadata, entry: Entry(key: key, value: value))
            }
            let timeMax = Duration.milliseconds(500)
            let touched = ContinuousClock.now
            _ = try writer.heartbeat(table: metadata, key: "MDS.8.1", timeMax: timeMax)
            // No more touches: the server under NODE2 "died".
            let replaced = eventually(within: .seconds(5), every: .milliseconds(5)) {
                cluster.entry("UNDER1", metadata, "MDS.8") == Entry(key: "MDS.8", value: "HOST8:1")
                    && cluster.entry("UNDER1", metadata, "MDS.8.1")?.valid == false
            }
            let beyond = ContinuousClock.now - touched - timeMax
            print(
                "[node] a heartbeat that stopped under NODE2: backup promoted under NODE1 \(milliseconds(beyond)) ms after Time_Max"
            )
            #expect(replaced != nil, "\(cluster.logs())")
            #expect(beyond < .milliseconds(100), "within Time_Max + 100 ms")
        }
    }
}
