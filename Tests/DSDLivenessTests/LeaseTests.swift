import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Testing

extension Liveness {
    /// What the directory's lease set follows: a deleted entry is unleased.
    @Suite(.serialized) struct LeaseTests {
        @Test func droppedTableTakesItsHeartbeatsWithIt() throws {
            let cluster = try LivenessCluster()
            try cluster.startServer()
            try cluster.startAgent("SRVA")
            let client = try cluster.client("SRVA")
            _ = try client.createTable("HB_DROPPED")
            try client.put(table: "HB_DROPPED", entry: Entry(key: "OSS.1", value: "SRVA:1900"))
            _ = try client.heartbeat(table: "HB_DROPPED", key: "OSS.1", timeMax: .seconds(10))
            #expect(cluster.status("SRVA")["heartbeats"] == "1")
            _ = try client.dropTable("HB_DROPPED", force: true)
            let forgotten = eventually(within: .seconds(3), every: .milliseconds(10)) {
                cluster.status("SRVA")["heartbeats"] == "0"
            }
            #expect(
                forgotten != nil, "the agent still tracks a heartbeat of a dropped table: \(cluster.status("SRVA"))")
        }

        @Test func deletedEntryIsUnleasedAndSurvivesItsOldAgent() throws {
            let cluster = try LivenessCluster.scenario()
            let writer = try cluster.client("HOST1")
            let table = LivenessCluster.table
            for key in ["OSS.8", "OSS.9"] {
                try writer.put(table: table, entry: Entry(key: key, value: "SRVA:1900"))
            }
            let seen = eventually(within: .seconds(5), every: .milliseconds(10)) {
                cluster.entry("SRVA", "OSS.9") != nil
            }
            #expect(seen != nil)
            // SRVA's agent tracks (and leases) both: OSS.8 is kept alive by a server's loop,
            // OSS.9 is touched once.
            _ = try cluster.startHeartbeatLoop(host: "SRVA", key: "OSS.8", timeMaxMillis: 1000)
            let looping = eventually(within: .seconds(5), every: .milliseconds(10)) {
                cluster.status("SRVA")["heartbeats"] == "1"
            }
            #expect(looping != nil, "the heartbeat loop never reached the agent:\n\(cluster.logs())")
            try cluster.client("SRVA").heartbeat(table: table, key: "OSS.9", timeMax: .seconds(1))
            // OSS.9 is deleted and registered again by another host with the same value.
            try writer.delete(table: table, key: "OSS.9")
            let deleted = eventually(within: .seconds(5), every: .milliseconds(10)) {
                cluster.entry("SRVA", "OSS.9") == nil
            }
            #expect(deleted != nil, "SRVA's replica did not see the delete")
            try writer.put(table: table, entry: Entry(key: "OSS.9", value: "SRVA:1900"))
            #expect(cluster.entry("HOST1", "OSS.9")?.valid == true)

            // Leases learned after the directory's start have a grace of Time_Max + agent
            // timeout from the start: wait it out, then lose SRVA's agent. Its leased OSS.8
            // goes invalid (the control); the unleased OSS.9 must not.
            Thread.sleep(until: cluster.serverStarted + .seconds(2) + .milliseconds(200))
            let killed = cluster.killTree(cluster.agents["SRVA"]!)
            let delays = try cluster.invalidDelays("OSS.8", since: killed, within: .seconds(4))
            print("agent SIGKILLed → leased OSS.8 invalid: \(FailoverTests.text(delays))")
            #expect(delays.values.allSatisfy { $0 != nil }, "the still-leased entry stayed valid:\n\(cluster.logs())")
            usleep(300_000)
            for host in LivenessCluster.observers {
                #expect(cluster.entry(host, "OSS.9")?.valid == true, "\(host): the unleased OSS.9 was invalidated")
            }
        }
    }
}
