import DSDTestSupport
import Foundation
import Testing

/// `make demo` (mount-examples/demo-cluster.sh): a directory and three mounted agents.
@Suite(.serialized) final class DemoClusterTests {
    let dir: TempDirectory
    let base: String
    let port: Int
    var demos: [Spawned] = []

    init() throws {
        try requireRootAndFuse()
        dir = try TempDirectory(prefix: "/tmp/dsd-demo-it-")
        base = dir.file("demo")
        port = try freeLoopbackPort()
    }

    deinit {
        for demo in demos where demo.isRunning {
            demo.signal(SIGTERM)
            _ = demo.waitForExit(within: .seconds(10))
        }
        // Whatever a demo left behind runs on this test's unique paths.
        terminate(processIDs(commandLineContaining: base))
        for host in 1...3 {
            Cluster.detach("\(base)/HOST\(host)/mnt/events")
            Cluster.detach("\(base)/HOST\(host)/mnt")
        }
    }

    /// Starts the demo script as `make demo` does.
    func startDemo() throws -> Spawned {
        let demo = try Spawned(
            "/usr/bin/env",
            [
                "DSD_DEMO_DIR=\(base)", "DSD_DEMO_PORT=\(port)", "/bin/bash", exampleScript("demo-cluster.sh"),
                try DSDBinary.path(),
            ],
            in: dir, name: "demo")
        demos.append(demo)
        return demo
    }

    func startedDemo() throws -> Spawned {
        let demo = try startDemo()
        let up = eventually(within: .seconds(30), every: .milliseconds(20)) {
            demo.stdout.contains("Press Ctrl-C to stop.") || !demo.isRunning
        }
        guard up != nil, demo.isRunning else {
            throw HarnessError("the demo did not start: \(demo.stdout)\(demo.stderr)")
        }
        return demo
    }

    /// A second demo on the same directory refuses, naming the running one and how to stop it,
    /// and leaves its mounts and data alone.
    @Test(.timeLimit(.minutes(1))) func secondDemoRefusesWhileOneRuns() throws {
        let first = try startedDemo()
        let key = try String(contentsOfFile: base + "/cluster.key", encoding: .utf8)
        let find = "\(base)/HOST2/mnt/find/MDS.1"
        // The seed tables are loaded through HOST1; HOST2 has them a moment later.
        #expect(eventually(within: .seconds(5)) { readFile(find) == "127.0.9.1:1872\n" } != nil)

        let second = try startDemo()
        let exited = second.waitForExit(within: .seconds(5))
        #expect(exited, "the second demo did not refuse: \(second.stdout)\(second.stderr)")
        if !exited { second.stop() }
        #expect(second.exitStatus != 0)
        let message = second.stderr
        #expect(message.contains("already running in \(base) (pid \(first.pid))"), "\(message)")
        #expect(message.contains("kill \(first.pid)"), "\(message)")
        #expect(message.contains("DSD_DEMO_DIR="), "\(message)")

        #expect(first.isRunning)
        #expect(readFile(find) == "127.0.9.1:1872\n", "the running demo's mount was disturbed")
        #expect((try? String(contentsOfFile: base + "/cluster.key", encoding: .utf8)) == key)

        first.signal(SIGTERM)
        #expect(first.waitForExit(within: .seconds(10)))
        #expect(eventually(within: .seconds(5)) { !(1...3).contains { isMounted("\(base)/HOST\($0)/mnt") } } != nil)
    }
}
