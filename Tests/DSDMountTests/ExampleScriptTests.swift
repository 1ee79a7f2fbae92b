import DSDTestSupport
import Foundation
import Testing

/// mount-examples/watch-failures.sh and redirect-requests.sh, run as an operator runs them,
/// against a real `dsd up` with its mount.
@Suite(.serialized) final class ExampleScriptTests {
    let up: MountedUp

    init() throws { up = try MountedUp() }

    /// One invalidation raises several inotify events (CLOSE_WRITE, ATTRIB, …): the action runs
    /// once for each failure (a write of valid 0, a heartbeat that expired, a delete).
    @Test(.timeLimit(.minutes(1))) func watchFailuresActsOncePerFailure() throws {
        let entry = up.path("tables/DSD_MTID_GATEWAY/GW.w")
        let watcher = try Spawned(
            "/bin/bash", [exampleScript("watch-failures.sh"), up.path("tables/DSD_MTID_GATEWAY")], in: up.dir)
        defer { terminate(processIDs(commandLineContaining: up.path("tables"))) }
        let ready = eventually(within: .seconds(5), every: .milliseconds(10)) { inotifyWatching(under: watcher.pid) }
        try #require(ready != nil, "inotifywait did not start: \(watcher.stderr)")
        let reports = { watcher.stdout.split(separator: "\n").map(String.init) }
        func settle(until count: Int) -> Bool {
            guard eventually(within: .seconds(5), { reports().count >= count }) != nil else { return false }
            usleep(300_000)  // room for a duplicate to show up
            return true
        }

        #expect(try up.sh("echo HOST2:1701 > \(entry)").status == 0)
        usleep(300_000)
        #expect(reports().isEmpty, "a valid entry is no failure: \(reports())")

        #expect(try up.sh("echo HOST2:1701 0 > \(entry)").status == 0)
        #expect(settle(until: 1))
        #expect(reports() == ["invalid GW.w HOST2:1701"])

        // A heartbeat with Time_Max 300 ms that is not renewed: valid, then invalid once more.
        #expect(try up.sh("touch -d '+0.3 sec' \(entry)").status == 0)
        #expect(settle(until: 2))
        #expect(reports() == ["invalid GW.w HOST2:1701", "invalid GW.w HOST2:1701"])

        #expect(try up.sh("rm \(entry)").status == 0)
        #expect(settle(until: 3))
        #expect(
            reports() == ["invalid GW.w HOST2:1701", "invalid GW.w HOST2:1701", "deleted GW.w HOST2:1701"],
            "stderr: \(watcher.stderr)")
    }

    /// The events readers the script subscribes with (`cat events/…/.all`) end with it.
    @Test(.timeLimit(.minutes(1))) func redirectLeavesNoReaderWhenTheCommandEnds() throws {
        let outcome = try Spawned.run(
            "/bin/bash", [exampleScript("redirect-requests.sh"), up.mountpoint, "MDS.1", "echo \"run $ROUTE\""],
            in: up.dir, timeout: .seconds(10))
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.lines == ["run 127.0.9.1:1872"], "\(outcome)")
        let gone = eventually(within: .seconds(2)) { processIDs(commandLineContaining: up.path("events")).isEmpty }
        #expect(gone != nil, "still reading events: \(processIDs(commandLineContaining: up.path("events")))")
    }

    /// A request is resubmitted on the new route when its primary fails; SIGTERM to the script
    /// stops the running request (with everything it started) and the events readers.
    @Test(.timeLimit(.minutes(1))) func redirectResubmitsAndCleansUpOnSigterm() throws {
        // The request prints its shell's pid and its child's: both must be gone afterwards.
        let request = "echo \"run $ROUTE $$\"; sleep 30 & echo \"child $!\"; wait"
        let script = try Spawned(
            "/bin/bash", [exampleScript("redirect-requests.sh"), up.mountpoint, "MDS.1", request], in: up.dir)
        var lines: [String] { script.lines }
        var requestPids: [Int32] {
            lines.compactMap { $0.split(separator: " ").last.flatMap { Int32($0) } }
        }
        defer { terminate(requestPids) }
        let started = eventually(within: .seconds(5)) { lines.filter { $0.hasPrefix("child ") }.count == 1 }
        try #require(started != nil, "\(lines) \(script.stderr)")
        #expect(lines.first?.hasPrefix("run 127.0.9.1:1872 ") == true, "\(lines)")

        // MDS.1's primary MDS.1.1 (HOST9) fails: MDS.1 moves to MDS.1.0 on HOST11.
        #expect(try up.sh("echo HOST9:1872 0 > \(up.path("tables/DSD_MTID_METADATA/MDS.1.1"))").status == 0)
        let moved = eventually(within: .seconds(5)) { lines.filter { $0.hasPrefix("child ") }.count == 2 }
        #expect(moved != nil, "\(lines) \(script.stderr)")
        #expect(lines.contains { $0.hasPrefix("run 127.0.11.11:1872 ") }, "\(lines)")
        #expect(script.stderr.contains("moved from 127.0.9.1:1872 to 127.0.11.11:1872"), "\(script.stderr)")
        let pids = requestPids
        #expect(pids.count == 4, "\(lines)")

        script.signal(SIGTERM)
        #expect(script.waitForExit(within: .seconds(3)))
        let clean = eventually(within: .seconds(2)) {
            !pids.contains(where: isAlive) && processIDs(commandLineContaining: up.path("events")).isEmpty
        }
        #expect(
            clean != nil,
            "left running: request \(pids.filter(isAlive)), readers \(processIDs(commandLineContaining: up.path("events")))"
        )
    }
}
