import DSDClient
import DSDCore
import DSDEtcd
import DSDTestSupport
import DSDWire
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

            // A batch is one etcd transaction: one revision, the same change on every server.
            let batch = (0..<500).map { BatchWrite.put(table: testTable, Entry(key: "B.\($0)", value: "HOST\($0):1")) }
            let committed = try #require(try a.batch(batch))
            #expect(rc.cluster.waitVersion("B", atLeast: committed, within: .seconds(5)) != nil)
            #expect(try b.list(table: testTable, prefix: "B.").count == 500)
            #expect(rc.cluster.status("B")["version"] == "\(committed.epoch).\(committed.index)")
            // More operations than etcd takes in one transaction (this cluster: --max-txn-ops
            // 1000): refused with the remedy, nothing applied.
            let tooMany = (0..<1200).map { BatchWrite.put(table: testTable, Entry(key: "C.\($0)", value: "v")) }
            #expect {
                try b.batch(tooMany)
            } throws: { error in
                guard case ClientError.failed(_, let message) = error else { return false }
                return message.contains("--max-txn-ops") && message.contains("1200")
            }
            #expect(rc.cluster.entry("A", testTable, "C.0") == nil)
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
            let mounted = access("/dev/fuse", R_OK | W_OK) == 0 && getuid() == 0
            try rc.cluster.startAgent("A", mount: mounted, server: rc.serverList(startingAt: 0))
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
            if mounted {
                // On the mount the same refusal is EIO.
                let path = rc.cluster.mountpoint("A") + "/tables/\(testTable)/K5"
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                var written = -1
                var error: Int32 = 0
                if fd >= 0 {
                    written = "v5\n".withCString { Glibc.write(fd, $0, 3) }
                    error = errno
                    close(fd)
                } else {
                    error = errno
                }
                #expect(
                    written == -1 && error == EIO,
                    "a write through the mount fails with EIO (\(written), errno \(error))")
            }
            let writes = rc.cluster.status("A")["writes"] ?? ""
            #expect(writes.hasPrefix("failing since") && writes.contains("etcd"), "status says why: \(writes)")
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
            #expect(rc.cluster.status("A")["writes"] == "committing")
            #expect(
                eventually(within: .seconds(5)) { rc.cluster.entry("A", testTable, "K4") != nil } != nil,
                "\((try? rc.cluster.command("A", ["ls", testTable]))?.description ?? "?")\n\(rc.logs(lines: 40))")
        }

        /// The master dsd server SIGKILLed five times at random moments while four writers
        /// write through three agents with mounts: no acknowledged put is lost, every agent
        /// converges, writes through the agents of the killed server succeed again within
        /// 1 s, and `cat find/MDS.1` never fails on any host.
        @Test(.timeLimit(.minutes(4)))
        func theMasterSIGKILLedFiveTimesLosesNothing() throws {
            guard access("/dev/fuse", R_OK | W_OK) == 0, getuid() == 0 else {
                throw HarnessError("this test mounts replicas: it needs root and /dev/fuse (CI has both)")
            }
            let rc = try RedundantCluster()
            defer { rc.stopAll() }
            try rc.startServer(0)
            try rc.startServer(1)
            let hosts = ["H0", "H1", "H2"]
            for (index, host) in hosts.enumerated() {
                try rc.cluster.startAgent(host, mount: true, server: rc.serverList(startingAt: index % 2))
            }
            #expect(rc.cluster.waitConnected(hosts) != nil, "agents connect\n\(rc.logs())")
            let setup = try rc.cluster.client("H0")
            try setup.put(table: Self.routes, entry: Entry(key: "HOST9.0", value: "16.7.13.1"))
            try setup.put(table: Self.metadata, entry: Entry(key: "MDS.1.1", value: "HOST9:1872"))
            try setup.put(table: Self.metadata, entry: Entry(key: "MDS.1", value: "HOST9:1872"))
            let finds = hosts.map { rc.cluster.mountpoint($0) + "/find/MDS.1" }
            for path in finds {
                #expect(
                    eventually(within: .seconds(5)) {
                        (try? String(contentsOfFile: path, encoding: .utf8)) == "16.7.13.1:1872\n"
                    }
                        != nil, "\(path) resolves\n\(rc.logs())")
            }

            let done = Flag()
            let readFailures = Mutex<[String]>([])
            let reads = Atomic<Int>(0)
            let readers = Thread {
                while !done.isSet {
                    for path in finds {
                        let text = try? String(contentsOfFile: path, encoding: .utf8)
                        if text != "16.7.13.1:1872\n" {
                            readFailures.withLock { $0.append("\(path): \(text ?? "error")") }
                        }
                        reads.add(1, ordering: .relaxed)
                    }
                }
            }
            readers.start()
            let ledger = WriteLedger()
            let sockets = hosts.map { rc.cluster.socket($0) }
            let writersDone = DispatchGroup()
            for writer in 0..<4 {
                writersDone.enter()
                Thread {
                    defer { writersDone.leave() }
                    var client = try? AgentClient(socketPath: sockets[writer % 3], timeout: .seconds(10))
                    var n = 0
                    while !done.isSet {
                        let key = "W\(writer).\(n)"
                        n += 1
                        do {
                            if client == nil {
                                client = try AgentClient(socketPath: sockets[writer % 3], timeout: .seconds(10))
                            }
                            try client!.put(table: testTable, entry: Entry(key: key, value: "v\(key)"))
                            ledger.record(key, .acknowledged)
                        } catch {
                            ledger.record(key, .failed("\(error)"))
                            usleep(5_000)
                        }
                    }
                }.start()
            }

            // A second service whose primary is heartbeated from H1; the heartbeats stop at
            // the moment of the third kill.
            try setup.put(table: Self.routes, entry: Entry(key: "HOST8.0", value: "16.7.13.2"))
            try setup.put(table: Self.metadata, entry: Entry(key: "MDS.2.1", value: "HOST9:1873"))
            try setup.put(table: Self.metadata, entry: Entry(key: "MDS.2.2", value: "HOST8:1873"))
            try setup.put(table: Self.metadata, entry: Entry(key: "MDS.2", value: "HOST9:1873"))
            let heartbeatStop = Flag()
            let heartbeatSocket = rc.cluster.socket("H1")
            let heartbeats = Thread {
                let client = try? AgentClient(socketPath: heartbeatSocket, timeout: .seconds(5))
                while !heartbeatStop.isSet {
                    _ = try? client?.heartbeat(table: Self.metadata, key: "MDS.2.1", timeMax: .milliseconds(1000))
                    usleep(200_000)
                }
            }
            heartbeats.start()
            usleep(500_000)

            var recoveries: [Duration] = []
            var generator = SplitMix64(seed: UInt64(UInt32.random(in: 0...UInt32.max)))
            var replaced: Duration?
            for round in 0..<5 {
                usleep(UInt32(300_000 + Int(generator.next() % 500_000)))
                let master = try #require(rc.waitForMaster(), "a master before kill \(round)\n\(rc.logs())")
                let port = "127.0.0.1:\(rc.serverPorts[master])"
                let attached = hosts.filter { rc.cluster.status($0)["directory"] == port }
                if round == 2 { heartbeatStop.set() }
                rc.kill(master)
                let killed = ContinuousClock.now
                for host in attached {
                    let back = Self.putUntilAcknowledged(rc, host, Entry(key: "PROBE.\(round).\(host)", value: "v"))
                    #expect(back != nil, "a write through \(host) after kill \(round)\n\(rc.logs())")
                    recoveries.append(ContinuousClock.now - killed)
                }
                if round == 2 {
                    // Time_Max 1 s + lease TTL 2 s + 1 s.
                    replaced = eventually(within: .seconds(4), every: .milliseconds(20)) {
                        finds.allSatisfy {
                            (try? String(
                                contentsOfFile: $0.replacingOccurrences(of: "MDS.1", with: "MDS.2"), encoding: .utf8))
                                == "16.7.13.2:1873\n"
                        }
                    }.map { _ in ContinuousClock.now - killed }
                    #expect(
                        replaced != nil,
                        "the backup of a primary that stopped during a master kill is promoted everywhere\n\(rc.logs())"
                    )
                }
                // The survivor takes over before the killed server comes back, so the next
                // kill hits the server the agents are on.
                _ = rc.waitForMaster()
                try rc.startServer(master)
            }
            done.set()
            #expect(writersDone.wait(timeout: .now() + 20) == .success, "writers stop")
            readers.cancel()

            let acknowledged = ledger.outcomes.filter { $0.value == .acknowledged }.map(\.key)
            let sorted = recoveries.sorted()
            print(
                "[redundancy] 5 master kills: \(acknowledged.count) puts acknowledged, \(ledger.count - acknowledged.count) failed, \(reads.load(ordering: .relaxed)) reads of find/MDS.1; writes through the killed server's agents resumed after p50 \(milliseconds(sorted[sorted.count / 2])) ms, max \(milliseconds(sorted.last!)) ms (\(sorted.count) agent recoveries)"
            )
            #expect(recoveries.count >= 10 && sorted.last! < .seconds(1), "writes resume within 1 s: \(sorted)")
            print(
                "[redundancy] the backup replaced a primary whose heartbeats stopped at a master kill after \(replaced.map { "\(milliseconds($0)) ms" } ?? "never")"
            )
            let failures = readFailures.withLock { $0 }
            #expect(failures.isEmpty, "cat find/MDS.1 never failed: \(failures.count), e.g. \(failures.prefix(3))")
            #expect(acknowledged.count > 100, "the writers made progress")
            for host in hosts {
                var missing: [String] = []
                let converged = eventually(within: .seconds(10)) {
                    guard let entries = try? rc.cluster.client(host).list(table: testTable, prefix: "W") else {
                        return false
                    }
                    let present = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                    missing = acknowledged.filter { present[$0] != "v\($0)" }
                    return missing.isEmpty
                }
                #expect(
                    converged != nil,
                    "every acknowledged put is on \(host); missing \(missing.count): \(missing.prefix(5))")
            }
            let versions = Set(hosts.compactMap { rc.cluster.status($0)["version"] })
            #expect(versions.count == 1, "every agent at the same version: \(versions)")
        }

        /// Agent loss is decided by the master from the agents' records in etcd, whichever
        /// server the agent was on; a new master gives every lease the grace of a start, then
        /// expires the agents that do not come back.
        @Test(.timeLimit(.minutes(2)))
        func theMasterExpiresAgentsLostBehindAnyServer() throws {
            let rc = try RedundantCluster()
            defer { rc.stopAll() }
            try rc.startServer(0)
            let master = try #require(rc.waitForMaster())
            try rc.startServer(1)
            let other = 1 - master
            try rc.cluster.startAgent("OBS", server: rc.serverList(startingAt: master))
            try rc.cluster.startAgent("H", server: rc.serverList(startingAt: other))
            try rc.cluster.startAgent("H2", server: rc.serverList(startingAt: other))
            #expect(rc.cluster.waitConnected(["OBS", "H", "H2"]) != nil)
            let observer = try rc.cluster.client("OBS")
            for (key, value) in [
                ("MDS.3.1", "HOST9:1"), ("MDS.3.2", "HOST8:1"), ("MDS.3", "HOST9:1"), ("MDS.4.1", "HOST7:1"),
            ] {
                try observer.put(table: Self.metadata, entry: Entry(key: key, value: value))
            }
            let keepH2 = Flag()
            let sockets = [rc.cluster.socket("H"), rc.cluster.socket("H2")]
            for (index, key) in ["MDS.3.1", "MDS.4.1"].enumerated() {
                Thread {
                    let client = try? AgentClient(socketPath: sockets[index], timeout: .seconds(5))
                    while !keepH2.isSet {
                        _ = try? client?.heartbeat(table: Self.metadata, key: key, timeMax: .seconds(1))
                        usleep(200_000)
                    }
                }.start()
            }
            defer { keepH2.set() }
            // Past the start-up grace of the master (Time_Max + agent timeout = 2 s).
            usleep(2_500_000)

            // H dies behind the server that is not master: the master expires its entry.
            rc.cluster.agents["H"]?.kill()
            let lost = ContinuousClock.now
            let invalid = eventually(within: .seconds(5), every: .milliseconds(20)) {
                rc.cluster.entry("OBS", Self.metadata, "MDS.3.1")?.valid == false
            }
            print(
                "[redundancy] an agent SIGKILLed behind the non-master server: its entry invalid after \(milliseconds(ContinuousClock.now - lost)) ms (agent timeout 1 s)"
            )
            #expect(invalid != nil, "the master expired the lost agent's entry\n\(rc.logs())")
            #expect(
                eventually(within: .seconds(2)) { rc.cluster.entry("OBS", Self.metadata, "MDS.3")?.value == "HOST8:1" }
                    != nil,
                "and promoted the backup")

            // The master dies; the other server takes over the duties with a grace: H2, alive
            // and touching, keeps its entry valid throughout.
            rc.kill(master)
            let takeover = try #require(
                eventually(within: .seconds(5)) {
                    rc.servers[other]?.stderr.contains("master duties started") ?? false
                },
                "the other server becomes master\n\(rc.logs())")
            _ = takeover
            var stayedValid = true
            let watchUntil = ContinuousClock.now + .seconds(3)
            while ContinuousClock.now < watchUntil {
                if rc.cluster.entry("OBS", Self.metadata, "MDS.4.1")?.valid == false { stayedValid = false }
                usleep(50_000)
            }
            #expect(stayedValid, "no mass expiry on failover\n\(rc.logs())")
            // H2 then dies too: the new master expires it (after the start-up grace).
            keepH2.set()
            rc.cluster.agents["H2"]?.kill()
            let gone = eventually(within: .seconds(10), every: .milliseconds(50)) {
                rc.cluster.entry("OBS", Self.metadata, "MDS.4.1")?.valid == false
            }
            #expect(gone != nil, "the new master expires an agent lost after the takeover\n\(rc.logs())")
        }

        /// Route probing runs on the master, from the routes the agents announced to any
        /// server: a route whose host stops answering turns invalid, and valid again.
        @Test(.timeLimit(.minutes(2)))
        func theMasterProbesRoutesAnnouncedToAnyServer() throws {
            let rc = try RedundantCluster()
            defer { rc.stopAll() }
            let probing = ["--probe-interval-ms", "100", "--probe-misses", "3"]
            try rc.startServer(0, extraArguments: probing)
            let master = try #require(rc.waitForMaster())
            try rc.startServer(1, extraArguments: probing)
            let other = 1 - master
            try rc.cluster.startAgent("OBS", server: rc.serverList(startingAt: master))
            let probePort = try freeLoopbackPort()
            let probed = try rc.cluster.startAgent(
                "HOST5", server: rc.serverList(startingAt: other),
                extraArguments: ["--route", "127.0.0.1", "--probe-port", "\(probePort)"])
            #expect(rc.cluster.waitConnected(["OBS", "HOST5"]) != nil)
            #expect(
                eventually(within: .seconds(5)) { rc.cluster.entry("OBS", Self.routes, "HOST5.0")?.valid == true }
                    != nil,
                "the master puts the announced route\n\(rc.logs())")
            probed.signal(SIGSTOP)
            let stopped = ContinuousClock.now
            let down = eventually(within: .seconds(5), every: .milliseconds(20)) {
                rc.cluster.entry("OBS", Self.routes, "HOST5.0")?.valid == false
            }
            print(
                "[redundancy] a stopped host's route invalid after \(milliseconds(ContinuousClock.now - stopped)) ms (3 misses at 100 ms)"
            )
            #expect(down != nil, "the master marks the silent route invalid\n\(rc.logs())")
            probed.signal(SIGCONT)
            #expect(
                eventually(within: .seconds(5)) { rc.cluster.entry("OBS", Self.routes, "HOST5.0")?.valid == true }
                    != nil,
                "and valid again once it answers\n\(rc.logs())")
        }

        /// A master paused past its lease (SIGSTOP) is replaced; resumed, it commits nothing
        /// (etcd refuses its guarded writes) and rejoins as a backup.
        @Test(.timeLimit(.minutes(2)))
        func aMasterPausedPastItsLeaseCommitsNothing() throws {
            let rc = try RedundantCluster()
            defer { rc.stopAll() }
            try rc.startServer(0)
            let master = try #require(rc.waitForMaster())
            try rc.startServer(1)
            let other = 1 - master
            try rc.cluster.startAgent("OBS", server: rc.serverList(startingAt: other))
            #expect(rc.cluster.waitConnected(["OBS"]) != nil)
            let observer = try rc.cluster.client("OBS")
            for (key, value) in [("MDS.5.1", "HOST9:1"), ("MDS.5.2", "HOST8:1"), ("MDS.5", "HOST9:1")] {
                try observer.put(table: Self.metadata, entry: Entry(key: key, value: value))
            }
            let paused = try #require(rc.servers[master])
            paused.signal(SIGSTOP)
            let tookOver = eventually(within: .seconds(6)) {
                rc.servers[other]?.stderr.contains("became master") ?? false
            }
            #expect(tookOver != nil, "the other server is elected while the master is paused\n\(rc.logs())")
            // A primary fails meanwhile: the new master promotes the backup.
            try observer.put(table: Self.metadata, entry: Entry(key: "MDS.5.1", value: "HOST9:1", valid: false))
            #expect(
                eventually(within: .seconds(3)) { rc.cluster.entry("OBS", Self.metadata, "MDS.5")?.value == "HOST8:1" }
                    != nil,
                "promoted by the new master\n\(rc.logs())")
            let before = paused.stderr.count
            let versionBefore = rc.cluster.status("OBS")["version"]
            paused.signal(SIGCONT)
            let rejoined = eventually(within: .seconds(5)) {
                let after = paused.stderr.dropFirst(before)
                return after.contains("no longer master") && after.contains("another server is master")
            }
            #expect(rejoined != nil, "the resumed server steps down and rejoins as a backup\n\(rc.logs())")
            usleep(500_000)
            let after = String(paused.stderr.dropFirst(before))
            #expect(!after.contains("derived write committed"), "the deposed master committed nothing:\n\(after)")
            let refused = after.components(separatedBy: "etcd refused a write of this server as master").count - 1
            print(
                "[redundancy] a master resumed after its lease expired: \(refused) guarded writes refused by etcd, none committed"
            )
            #expect(rc.cluster.status("OBS")["version"] == versionBefore, "nothing changed after the resume")
            #expect(rc.cluster.entry("OBS", Self.metadata, "MDS.5")?.value == "HOST8:1")
        }

        /// A server restarted with its cache reads only what changed since (a watch from the
        /// cached revision), not the whole prefix; after a compaction of that revision it
        /// lists instead. Either way it serves the whole directory.
        @Test(.timeLimit(.minutes(2)))
        func aRestartedServerResumesFromItsCache() async throws {
            let rc = try RedundantCluster()
            defer { rc.stopAll() }
            let cache = ["--cache", rc.cluster.dir.file("S0.cache")]
            try rc.startServer(0, extraArguments: cache)
            try rc.startServer(1)
            try rc.cluster.startAgent("A", server: rc.serverList(startingAt: 1))
            #expect(rc.cluster.waitConnected(["A"]) != nil)
            let writer = try rc.cluster.client("A")
            for i in 0..<10 { try writer.put(table: testTable, entry: Entry(key: "K\(i)", value: "v")) }

            let first = try #require(rc.servers[0])
            first.signal(SIGTERM)
            #expect(first.waitForExit(within: .seconds(10)), "a clean stop")
            for i in 0..<10 { try writer.put(table: testTable, entry: Entry(key: "L\(i)", value: "v")) }
            let second = try rc.startServer(0, extraArguments: cache)
            #expect(second.stderr.contains("directory read from the cache"), "\(second.stderr)")
            #expect(!second.stderr.contains("directory listed from etcd"), "no full relist")
            try rc.cluster.startAgent("B", server: rc.serverList(startingAt: 0))
            #expect(rc.cluster.waitConnected(["B"]) != nil)
            #expect(rc.cluster.status("B")["directory"] == "127.0.0.1:\(rc.serverPorts[0])")
            #expect(
                eventually(within: .seconds(5)) { rc.cluster.entry("B", testTable, "L9") != nil } != nil,
                "the changes made while it was down came by watch\n\(rc.logs())")
            #expect(rc.cluster.entry("B", testTable, "K0") != nil)

            // Stopped again, and etcd compacts past the cached revision: it lists instead.
            second.signal(SIGTERM)
            #expect(second.waitForExit(within: .seconds(10)))
            try writer.put(table: testTable, entry: Entry(key: "M0", value: "v"))
            let etcd = EtcdClient(endpoints: rc.etcd.clientURLs.compactMap(EtcdEndpoint.init(url:)))
            let current = try await etcd.range(RangeRequest(.key("/"))).header.revision
            try await etcd.compact(revision: current)
            let third = try rc.startServer(0, extraArguments: cache)
            #expect(
                eventually(within: .seconds(5)) { third.stderr.contains("reading the directory again") } != nil,
                "a compacted revision makes it list\n\(third.stderr)")
            #expect(
                eventually(within: .seconds(5)) { rc.cluster.entry("B", testTable, "M0") != nil } != nil,
                "B, back on the restarted server, has everything\n\(rc.logs())")
        }
    }
}
