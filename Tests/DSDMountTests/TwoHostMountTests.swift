import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Testing

/// The `/dsd` filesystem with real agents: a directory and two agents (A and B) on loopback,
/// each with its own mountpoint, driven by real processes (sh, cat, rm, touch, inotifywait).
@Suite(.serialized) final class TwoHostMountTests {
    let cluster: Cluster
    let table = StandardTable.gateway.name

    init() throws {
        cluster = try mountingCluster()
        try cluster.startAgent("A", mount: true)
        try cluster.startAgent("B", mount: true)
        guard cluster.waitConnected(["A", "B"]) != nil else {
            throw HarnessError("agents did not connect:\n\(cluster.logs())")
        }
    }

    deinit { cluster.stopAll() }

    func path(_ host: String, _ relative: String) -> String { cluster.mountpoint(host) + "/" + relative }

    func read(_ file: String) -> String? { try? String(contentsOfFile: file, encoding: .utf8) }

    /// An agent joining a directory of 100,000 entries: every one of them reads right through
    /// its mount as soon as it is synced (nothing waits for a replay).
    @Test(.timeLimit(.minutes(3))) func everyEntryReadsThroughTheMountOfAnAgentThatJoined() throws {
        let writer = try cluster.client("A", timeout: .seconds(30))
        for start in stride(from: 0, to: 100_000, by: 5000) {
            try writer.batch(
                (start..<start + 5000).map {
                    BatchWrite.put(table: table, Entry(key: "J.\($0)", value: "HOST\($0 % 97):1"))
                })
        }
        let version = try #require(Version(text: cluster.status("A")["version"] ?? ""))
        try cluster.startAgent("C", mount: true)
        #expect(cluster.waitVersion("C", atLeast: version, within: .seconds(30)) != nil)
        let started = ContinuousClock.now
        var wrong: [Int] = []
        for index in 0..<100_000 where read(path("C", "tables/\(table)/J.\(index)")) != "HOST\(index % 97):1 1\n" {
            wrong.append(index)
            if wrong.count > 5 { break }
        }
        #expect(wrong.isEmpty, "unreadable or wrong through C's mount: \(wrong)")
        print(
            "mount: 100,000 entries read through the mount of an agent that joined in \(ContinuousClock.now - started)")
    }

    /// More changes at once than the bulk threshold (1,000): B forgets the table's names at
    /// once instead of replaying each, so a name it had looked up and found missing reads
    /// right away; watchers get one signal meaning "rescan".
    @Test(.timeLimit(.minutes(1))) func aLargeBatchIsOneRescanAndEveryEntryReadsAtOnce() throws {
        let missing = path("B", "tables/\(table)/BULK.4321")
        #expect(read(missing) == nil, "looked up before the batch: a cached negative name")
        let inotify = try inotifyWatcher(path("B", "tables/\(table)"), in: cluster.dir)
        let events = try Watcher("/bin/cat", [path("B", "events/\(table)/.all")], in: cluster.dir)
        usleep(100_000)
        let writes = (0..<5000).map { BatchWrite.put(table: table, Entry(key: "BULK.\($0)", value: "HOST\($0):1700")) }
        let version = try #require(try cluster.client("A").batch(writes))
        #expect(cluster.waitVersion("B", atLeast: version, within: .seconds(5)) != nil)
        #expect(
            eventually(within: .milliseconds(500), every: .milliseconds(5)) { read(missing) == "HOST4321:1700 1\n" }
                != nil, "the cached negative name was forgotten")
        #expect(inotify.waitFor { $0 == "ATTRIB,ISDIR " }, "\(inotify.lines)")
        #expect(events.waitFor { $0 == "RESCAN" }, "\(events.lines)")
        usleep(200_000)
        // (The test's own read shows up as OPEN, ACCESS, CLOSE_NOWRITE of BULK.4321.)
        let replayed = inotify.lines.filter { line in
            line.contains("BULK.") && ["CREATE", "MODIFY", "CLOSE_WRITE", "DELETE"].contains { line.contains($0) }
        }
        #expect(replayed.isEmpty, "no change was replayed one by one: \(replayed.prefix(5))")
        #expect(!events.lines.contains { $0.hasPrefix("ADD BULK.") }, "\(events.lines.prefix(5))")
        let listed = try FileManager.default.contentsOfDirectory(atPath: path("B", "tables/\(table)"))
        #expect(listed.filter { $0.hasPrefix("BULK.") }.count == 5000)
        // A change after it is replayed as before.
        try cluster.client("A").put(table: table, entry: Entry(key: "BULK.after", value: "HOST1:1"))
        #expect(inotify.waitFor { $0.hasPrefix("CREATE") && $0.hasSuffix(" BULK.after") }, "\(inotify.lines.suffix(5))")
        #expect(events.waitFor { $0 == "ADD BULK.after HOST1:1 1" }, "\(events.lines.suffix(5))")
    }

    @Test(.timeLimit(.minutes(1))) func writeThroughAIsSeenByWatchersOfB() throws {
        let inotify = try inotifyWatcher(path("B", "tables/\(table)"), in: cluster.dir)
        let events = try Watcher("/bin/cat", [path("B", "events/\(table)/.all")], in: cluster.dir)
        let prefixed = try Watcher("/bin/cat", [path("B", "events/\(table)/GW.7")], in: cluster.dir)
        usleep(100_000)

        let entry = path("A", "tables/\(table)/GW.7")
        #expect(try shell("echo HOST2:1700 > \(entry)", in: cluster.dir).status == 0)
        #expect(inotify.waitFor { $0.hasPrefix("CREATE") && $0.hasSuffix(" GW.7") }, "\(inotify.lines)")
        #expect(events.waitFor { $0 == "ADD GW.7 HOST2:1700 1" }, "\(events.lines)")
        #expect(read(path("B", "tables/\(table)/GW.7")) == "HOST2:1700 1\n")

        #expect(try shell("echo HOST3:1700 0 > \(entry)", in: cluster.dir).status == 0)
        #expect(inotify.waitFor { $0.contains("MODIFY") && $0.hasSuffix(" GW.7") }, "\(inotify.lines)")
        #expect(inotify.waitFor { $0.contains("CLOSE_WRITE") && $0.hasSuffix(" GW.7") }, "\(inotify.lines)")
        #expect(events.waitFor { $0 == "ADD GW.7 HOST3:1700 0" }, "\(events.lines)")
        #expect(read(path("B", "tables/\(table)/GW.7")) == "HOST3:1700 0\n")

        #expect(try shell("rm \(entry)", in: cluster.dir).status == 0)
        #expect(inotify.waitFor { $0.hasPrefix("DELETE") && $0.hasSuffix(" GW.7") }, "\(inotify.lines)")
        #expect(events.waitFor { $0 == "DEL GW.7" }, "\(events.lines)")
        #expect(read(path("B", "tables/\(table)/GW.7")) == nil)
        #expect(prefixed.waitFor { $0 == "DEL GW.7" }, "\(prefixed.lines)")
        #expect(prefixed.lines == ["ADD GW.7 HOST2:1700 1", "ADD GW.7 HOST3:1700 0", "DEL GW.7"])
    }

    /// 1,000 change-then-read trials: after B's events file reports the change, B's entry file
    /// already holds it (never the kernel's cached old value).
    @Test(.timeLimit(.minutes(2))) func noStaleReadAfterTheEvent() throws {
        let writer = try cluster.client("A")
        try writer.put(table: table, entry: Entry(key: "GW.9", value: "v0"))
        let file = path("B", "tables/\(table)/GW.9")
        guard eventually(within: .seconds(5), { read(file) == "v0 1\n" }) != nil else {
            Issue.record("initial value never reached B")
            return
        }
        let stream = try #require(FileHandle(forReadingAtPath: path("B", "events/\(table)/GW.9")))
        defer { try? stream.close() }
        var pending = ""
        var stale = 0
        for trial in 1...1000 {
            let value = "v\(trial)"
            try writer.put(table: table, entry: Entry(key: "GW.9", value: value))
            // Wait for B's event line for this value.
            while !pending.contains("ADD GW.9 \(value) 1\n") {
                let chunk = stream.availableData
                if chunk.isEmpty { break }
                pending += String(decoding: chunk, as: UTF8.self)
            }
            pending = ""
            if read(file) != "\(value) 1\n" { stale += 1 }
        }
        print("mount: 1000 change-then-read trials on B, stale reads: \(stale)")
        #expect(stale == 0)
    }

    /// A heartbeat loop with Time_Max 300 ms, killed: the entry turns invalid on both mounts
    /// and B's watcher sees it.
    @Test(.timeLimit(.minutes(1))) func killedHeartbeatLoopInvalidatesEverywhere() throws {
        let entry = path("A", "tables/\(table)/GW.hb")
        #expect(try shell("echo HOST2:1701 > \(entry)", in: cluster.dir).status == 0)
        let loop = try ChildProcess(
            name: "heartbeat", executable: "/bin/sh",
            arguments: ["-c", "while :; do touch -d '+0.3 sec' \(entry) || exit 1; sleep 0.1; done"],
            logDirectory: cluster.dir.path)
        usleep(600_000)
        #expect(read(path("B", "tables/\(table)/GW.hb")) == "HOST2:1701 1\n")
        let inotify = try inotifyWatcher(path("B", "tables/\(table)"), in: cluster.dir)
        loop.kill()
        let killed = ContinuousClock.now
        let invalidOnB = eventually(within: .seconds(3)) {
            read(path("B", "tables/\(table)/GW.hb")) == "HOST2:1701 0\n"
        }
        let elapsed = ContinuousClock.now - killed
        print("mount: heartbeat loop killed; entry invalid on B after \(elapsed) (Time_Max 300 ms)")
        #expect(invalidOnB != nil)
        #expect(elapsed < .milliseconds(800))
        #expect(read(entry) == "HOST2:1701 0\n")
        #expect(inotify.waitFor { $0.hasSuffix(" GW.hb") }, "\(inotify.lines)")
    }

    @Test(.timeLimit(.minutes(1))) func nonRootReadsAndWatchesButCannotWrite() throws {
        try cluster.client("A").put(table: table, entry: Entry(key: "GW.ro", value: "HOST2:1702"))
        let file = path("B", "tables/\(table)/GW.ro")
        _ = eventually(within: .seconds(3)) { read(file) != nil }
        let cat = try shell("cat \(file)", asNobody: true, in: cluster.dir)
        #expect(cat.status == 0 && cat.stdout == "HOST2:1702 1\n", "\(cat)")
        let inotify = try inotifyWatcher(path("B", "tables/\(table)"), asNobody: true, in: cluster.dir)
        let write = try shell("echo HOST9:1 > \(file)", asNobody: true, in: cluster.dir)
        #expect(write.status != 0 && write.stderr.contains("Permission denied"), "\(write)")
        let create = try shell("echo HOST9:1 > \(path("B", "tables/\(table)/GW.new"))", asNobody: true, in: cluster.dir)
        #expect(create.status != 0, "\(create)")
        let remove = try shell("rm -f \(file)", asNobody: true, in: cluster.dir)
        #expect(remove.status != 0, "\(remove)")
        #expect(read(file) == "HOST2:1702 1\n")
        try cluster.client("A").put(table: table, entry: Entry(key: "GW.ro", value: "HOST2:1703"))
        #expect(inotify.waitFor { $0.hasSuffix(" GW.ro") }, "nobody's watcher saw nothing: \(inotify.lines)")
    }

    /// A reader that does not read while thousands of changes flow gets RESCAN, and the agent's
    /// memory stays bounded.
    @Test(.timeLimit(.minutes(2))) func slowEventsReaderGetsRescan() throws {
        let stream = try #require(FileHandle(forReadingAtPath: path("B", "events/\(table)/.all")))
        defer { try? stream.close() }
        let agentB = try #require(cluster.agents["B"])
        let before = residentKiB(of: agentB.pid) ?? 0
        let writer = try cluster.client("A")
        for index in 0..<6000 {
            try writer.put(table: table, entry: Entry(key: "GW.s\(index % 50)", value: "HOST\(index):1"))
        }
        let after = residentKiB(of: agentB.pid) ?? 0
        var text = ""
        let deadline = ContinuousClock.now + .seconds(10)
        while !text.contains("RESCAN\n") && ContinuousClock.now < deadline {
            text += String(decoding: stream.availableData, as: UTF8.self)
        }
        print("mount: slow events reader; agent B RSS \(before) KiB -> \(after) KiB after 6000 changes")
        #expect(text.contains("RESCAN\n"))
        #expect(after - before < 64 * 1024)
    }

    /// With the directory gone, reads keep working from the replica and writes fail at once.
    @Test(.timeLimit(.minutes(1))) func directoryUnreachableWritesFailReadsWork() throws {
        try cluster.client("A").put(table: table, entry: Entry(key: "GW.keep", value: "HOST2:1704"))
        let file = path("B", "tables/\(table)/GW.keep")
        _ = eventually(within: .seconds(3)) { read(file) != nil }
        cluster.server?.kill()
        _ = eventually(within: .seconds(5)) { cluster.status("B")["state"] == "stale" }
        #expect(read(file) == "HOST2:1704 1\n")
        #expect(read(path("B", "find/GW.keep")) == nil)  // HOST2 has no route in this cluster
        let write = try shell("echo HOST2:1705 > \(file)", in: cluster.dir)
        #expect(write.status != 0, "\(write)")
        #expect(write.elapsed < .seconds(2), "a write with the directory down must fail fast: \(write)")
        #expect(read(file) == "HOST2:1704 1\n")
    }
}
