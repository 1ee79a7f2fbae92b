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

    /// Every command the demo prints under "Try" works against the running demo, in order:
    /// foreground commands exit 0 without complaint; the streaming ones (`… &`, `dsd watch`)
    /// keep running and see the MDS.6 the later commands add.
    @Test(.timeLimit(.minutes(1))) func everyPrintedHintWorks() throws {
        let demo = try startedDemo()
        let printed = demo.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(printed.firstIndex { $0.hasPrefix("Try, in another terminal") })
        let hints = printed[(start + 1)...].prefix { $0.hasPrefix("  ") }.map { line -> String in
            let command = line.range(of: " # ").map { String(line[..<$0.lowerBound]) } ?? line
            return command.trimmingCharacters(in: .whitespaces)
        }
        #expect(hints.count >= 15, "\(printed)")
        #expect(hints.contains { $0.contains("/mnt/events/") }, "\(hints)")

        var streams: [(hint: String, process: Spawned)] = []
        defer { for stream in streams { stream.process.stop() } }
        for hint in hints {
            if hint.hasSuffix("&") || hint.contains(" watch ") {
                let command = hint.hasSuffix("&") ? String(hint.dropLast()) : hint
                let process = try Spawned("/bin/bash", ["-c", "exec \(command)"], in: dir, name: "hint")
                streams.append((hint, process))
                if command.hasPrefix("inotifywait") {
                    _ = eventually(within: .seconds(5)) { process.stderr.contains("Watches established") }
                } else {
                    usleep(300_000)
                }
                #expect(process.isRunning, "\(hint): \(process.stderr)")
            } else {
                let outcome = try Spawned.run("/bin/bash", ["-c", hint], in: dir)
                #expect(outcome.status == 0 && outcome.stderr.isEmpty, "\(hint): \(outcome)")
                if hint.hasPrefix("cat ") || hint.hasPrefix("ls ") {
                    #expect(!outcome.stdout.isEmpty, "\(hint) printed nothing")
                }
            }
        }
        #expect(streams.count == 3, "\(streams.map(\.hint))")
        for stream in streams {
            let saw = eventually(within: .seconds(3)) { stream.process.stdout.contains("MDS.6") }
            #expect(saw != nil, "\(stream.hint) saw no MDS.6: \(stream.process.stdout)\(stream.process.stderr)")
            #expect(stream.process.isRunning, "\(stream.hint): \(stream.process.stderr)")
        }
    }
}
