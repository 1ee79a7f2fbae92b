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
}
