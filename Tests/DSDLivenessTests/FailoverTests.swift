import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Testing

extension Liveness {
    /// Lost servers, lost agents and a restarted directory, with real processes (FIG. 4C).
    @Suite(.serialized) struct FailoverTests {
        static func text(_ delays: [String: Duration?]) -> String {
            delays.sorted { $0.key < $1.key }.map { host, delay in
                "\(host) \(delay.map { String(format: "%.1f ms", milliseconds($0)) } ?? "never")"
            }.joined(separator: ", ")
        }

        /// After a failover every observer's replica names the backup, and `dsd find` there
        /// returns the backup's complete route.
        /// The scenario with heartbeat loops (Time_Max 1 s) for MDS.1.0 on SRVA and MDS.1.1 on
        /// SRVB, both armed in their agents.
        static func scenarioWithBothServersHeartbeating() throws -> LivenessCluster {
            let cluster = try LivenessCluster.scenario()
            _ = try cluster.startHeartbeatLoop(host: "SRVA", key: "MDS.1.0", timeMaxMillis: 1000)
            _ = try cluster.startHeartbeatLoop(host: "SRVB", key: "MDS.1.1", timeMaxMillis: 1000)
            let armed = eventually(within: .seconds(5), every: .milliseconds(20)) {
                cluster.status("SRVA")["heartbeats"] == "1" && cluster.status("SRVB")["heartbeats"] == "1"
            }
            #expect(armed != nil, "the heartbeats never reached the agents:\n\(cluster.logs())")
            return cluster
        }

        static func expectPromoted(_ cluster: LivenessCluster) throws {
            let promoted = eventually(within: .seconds(2), every: .milliseconds(5)) {
                LivenessCluster.observers.allSatisfy { cluster.entry($0, "MDS.1")?.value == "SRVB:1872" }
            }
            #expect(promoted != nil, "MDS.1 was not promoted to the backup:\n\(cluster.logs())")
            for host in LivenessCluster.observers {
                let found = try cluster.find(host, "MDS.1")
                #expect(found.status == 0 && found.lines == [LivenessCluster.backupRoute], "\(host): \(found)")
            }
        }

        @Test func killedServerIsInvalidEverywhereWithinTimeMaxAndItsBackupPromoted() throws {
            let cluster = try LivenessCluster.scenario()
            let loop = try cluster.startHeartbeatLoop(host: "SRVA", key: "MDS.1.0", timeMaxMillis: 300)
            // Let the loop run long enough that a flapping heartbeat would show.
            let armed = eventually(within: .seconds(5), every: .milliseconds(20)) {
                cluster.status("SRVA")["heartbeats"] == "1"
            }
            #expect(armed != nil, "the heartbeat never reached the agent:\n\(cluster.logs())")
            usleep(1_500_000)
            for host in LivenessCluster.observers {
                #expect(cluster.entry(host, "MDS.1.0")?.valid == true)
                let found = try cluster.find(host, "MDS.1")
                #expect(found.lines == [LivenessCluster.primaryRoute], "\(host) before the kill: \(found)")
            }

            let killed = cluster.killTree(loop)
            let delays = try cluster.invalidDelays("MDS.1.0", since: killed, within: .seconds(3))
            print("server SIGKILLed (Time_Max 300 ms) → MDS.1.0 invalid: \(Self.text(delays))")
            for (host, delay) in delays {
                #expect(delay != nil && delay! < .milliseconds(400), "\(host): \(Self.text(delays))\n\(cluster.logs())")
            }
            try Self.expectPromoted(cluster)
        }

        @Test func killedAgentTakesItsHeartbeatedEntriesWithIt() throws {
            let cluster = try LivenessCluster.scenario()
            _ = try cluster.startHeartbeatLoop(host: "SRVA", key: "MDS.1.0", timeMaxMillis: 1000)
            let armed = eventually(within: .seconds(5), every: .milliseconds(20)) {
                cluster.status("SRVA")["heartbeats"] == "1"
            }
            #expect(armed != nil, "the heartbeat never reached the agent:\n\(cluster.logs())")
            // Past the directory's start-up grace (Time_Max + agent timeout after its start).
            let graceOver = cluster.serverStarted + .seconds(2) + .milliseconds(200)
            Thread.sleep(until: graceOver)
            #expect(LivenessCluster.observers.allSatisfy { cluster.entry($0, "MDS.1.0")?.valid == true })

            try Self.killAgentExpectingInvalidAfterTimeout(cluster, label: "agent SIGKILLed (agent timeout 1 s)")
        }

        @Test func agentLostWhileTheDirectoryWasDownIsDetectedAfterItsRestart() throws {
            let cluster = try LivenessCluster.scenario()
            _ = try cluster.startHeartbeatLoop(host: "SRVA", key: "MDS.1.0", timeMaxMillis: 1000)
            let armed = eventually(within: .seconds(5), every: .milliseconds(20)) {
                cluster.status("SRVA")["heartbeats"] == "1"
            }
            #expect(armed != nil, "the heartbeat never reached the agent:\n\(cluster.logs())")
            let leases = cluster.base.dataDirectory + "/leases"
            let stored = eventually(within: .seconds(3), every: .milliseconds(10)) {
                FileManager.default.fileExists(atPath: leases)
            }
            #expect(stored != nil, "the directory never stored SRVA's lease")

            // The directory dies; SRVA's agent dies while it is down; the directory comes back.
            let old = try #require(cluster.server)
            old.signal(SIGKILL)
            #expect(old.waitForExit(within: .seconds(5)))
            _ = cluster.killTree(cluster.agents["SRVA"]!)
            try cluster.startServer()
            let restarted = ContinuousClock.now
            let back = cluster.waitConnected(LivenessCluster.observers, within: .seconds(15))
            #expect(back != nil, "observers did not reconnect:\n\(cluster.logs())")

            // SRVA never reconnects: its restored lease expires at the directory's start +
            // the reconnect window (5 s, longer than Time_Max) + the agent timeout (1 s), and
            // MDS.1.0 is invalid everywhere.
            let delays = try cluster.invalidDelays("MDS.1.0", since: restarted, within: .seconds(10))
            print("agent lost while the directory was down → MDS.1.0 invalid after the restart: \(Self.text(delays))")
            for (host, delay) in delays {
                #expect(delay != nil, "\(host) never saw MDS.1.0 invalid\n\(cluster.logs())")
                if let delay {
                    #expect(delay >= .milliseconds(5500), "\(host): \(Self.text(delays))")
                    #expect(delay < .milliseconds(7500), "\(host): \(Self.text(delays))")
                }
            }
            try Self.expectPromoted(cluster)
        }

        @Test func pausedDirectoryDoesNotBlameTheAgentsThatGaveUpOnIt() throws {
            let cluster = try Self.scenarioWithBothServersHeartbeating()
            Thread.sleep(until: cluster.serverStarted + .milliseconds(2_500))  // past the start-up grace
            let monitor = ValidityMonitor(
                socket: cluster.socket("HOST1"), table: LivenessCluster.table, keys: ["MDS.1", "MDS.1.0", "MDS.1.1"])

            // 6.5 s without the directory: past the agents' 5 s silence limit, so they drop
            // it and back off; the directory learns of those closes only when it resumes.
            let server = try #require(cluster.server)
            server.signal(SIGSTOP)
            usleep(6_500_000)
            server.signal(SIGCONT)
            let back = cluster.waitConnected(["SRVA", "SRVB"] + LivenessCluster.observers, within: .seconds(15))
            #expect(back != nil, "agents did not reconnect:\n\(cluster.logs())")
            usleep(3_000_000)
            let watched = monitor.stop()
            print("directory paused 6.5 s: \(watched.polls) polls of HOST1, \(watched.invalid.count) invalid sightings")
            #expect(server.stderr.contains("the directory stalled"), "the stall was not noticed")
            #expect(watched.polls > 50)
            #expect(watched.invalid.isEmpty, "live entries went invalid after the pause: \(watched.invalid.prefix(5))")
            for host in LivenessCluster.observers {
                #expect(cluster.entry(host, "MDS.1")?.value == "SRVA:1872")
            }
        }

        @Test func restartedDirectoryKeepsLiveEntriesAndRelearnsLeases() throws {
            let cluster = try Self.scenarioWithBothServersHeartbeating()
            let monitor = ValidityMonitor(
                socket: cluster.socket("HOST1"), table: LivenessCluster.table, keys: ["MDS.1", "MDS.1.0", "MDS.1.1"])

            let old = try #require(cluster.server)
            old.signal(SIGTERM)
            #expect(old.waitForExit(within: .seconds(10)), "the directory did not stop on SIGTERM")
            usleep(500_000)
            try cluster.startServer()
            let back = cluster.waitConnected(["SRVA", "SRVB"] + LivenessCluster.observers, within: .seconds(15))
            #expect(back != nil, "agents did not reconnect:\n\(cluster.logs())")
            // Through the start-up grace and beyond: the leases restored from before the restart
            // would expire 5 + 1 s after the start had their agents not come back.
            Thread.sleep(until: cluster.serverStarted + .milliseconds(6_500))
            let watched = monitor.stop()
            print("directory restarted: \(watched.polls) polls of HOST1, \(watched.invalid.count) invalid sightings")
            #expect(watched.polls > 50)
            #expect(
                watched.invalid.isEmpty, "live entries went invalid across the restart: \(watched.invalid.prefix(5))")
            for host in LivenessCluster.observers {
                #expect(cluster.entry(host, "MDS.1")?.value == "SRVA:1872")
            }

            // The restarted directory learned SRVA's lease again on the reconnect: losing
            // SRVA now still invalidates MDS.1.0.
            try Self.killAgentExpectingInvalidAfterTimeout(cluster, label: "after the restart, agent SIGKILLed")
        }

        /// SIGKILLs SRVA's agent: MDS.1.0 must turn invalid on every observer not before the
        /// agent timeout (1 s; a reconnect would have been tolerated) and within it plus a
        /// little slack for the commit and the push, and MDS.1.1 must be promoted.
        static func killAgentExpectingInvalidAfterTimeout(_ cluster: LivenessCluster, label: String) throws {
            let killed = cluster.killTree(cluster.agents["SRVA"]!)
            let delays = try cluster.invalidDelays("MDS.1.0", since: killed, within: .seconds(4))
            print("\(label) → MDS.1.0 invalid: \(text(delays))")
            for (host, delay) in delays {
                #expect(delay != nil, "\(host) never saw MDS.1.0 invalid\n\(cluster.logs())")
                if let delay {
                    #expect(delay >= .milliseconds(1000), "\(host): \(text(delays))")
                    #expect(delay < .milliseconds(1500), "\(host): \(text(delays))")
                }
            }
            try expectPromoted(cluster)
        }
    }
}

extension Thread {
    static func sleep(until instant: ContinuousClock.Instant) {
        let remaining = instant - ContinuousClock.now
        guard remaining > .zero else { return }
        usleep(UInt32(milliseconds(remaining) * 1000))
    }
}
