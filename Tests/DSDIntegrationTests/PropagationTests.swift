import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Testing

extension Integration {
    /// One directory, three agents as separate processes: a write through one agent reaches the
    /// others, and `dsd watch` sees it.
    @Suite struct Propagation {
        @Test(.timeLimit(.minutes(2)))
        func putAndDeleteReachEveryAgentAndWatcher() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            for host in ["A", "B", "C"] { try cluster.startAgent(host) }
            #expect(cluster.waitConnected(["A", "B", "C"]) != nil, "agents connect\n\(cluster.logs())")

            // A watcher on C, as a child process printing lines.
            let watch = try ChildProcess(
                name: "watch", executable: cluster.dsd,
                arguments: ["watch", testTable, "--socket", cluster.socket("C")], logDirectory: cluster.dir.path)
            defer { watch.kill() }
            let registered = eventually(within: .seconds(5), every: .milliseconds(10)) {
                cluster.status("C")["watchers"] == "1"
            }
            #expect(registered != nil, "the watch registered on C: \(watch.stderr)")

            // Through the command line: put on A, read on B and C.
            let put = try cluster.command("A", ["put", testTable, "IT.CLI", "HOST9:1872"])
            #expect(put.status == 0, "dsd put: \(put)")
            for host in ["B", "C"] {
                let seen = eventually(within: .seconds(2)) { cluster.entry(host, testTable, "IT.CLI") != nil }
                #expect(seen != nil, "IT.CLI reached \(host)")
                let get = try cluster.command(host, ["get", testTable, "IT.CLI"])
                #expect(get.status == 0 && get.stdout == "HOST9:1872 1\n", "dsd get on \(host): \(get)")
            }

            // Measured: put through an in-process client on A, poll B and C.
            let writer = try cluster.client("A")
            let readers = [try cluster.client("B"), try cluster.client("C")]
            var worst = Duration.zero
            for round in 0..<20 {
                let key = "IT.M\(round)"
                let value = "HOST\(round):\(1000 + round)"
                let start = ContinuousClock.now
                try writer.put(table: testTable, entry: Entry(key: key, value: value))
                let acked = ContinuousClock.now - start
                for (index, reader) in readers.enumerated() {
                    let took = eventually(within: .seconds(2), every: .microseconds(200)) {
                        (try? reader.get(table: testTable, key: key))?.value == value
                    }
                    #expect(took != nil, "\(key) reached \(index == 0 ? "B" : "C") within 2 s")
                    worst = max(worst, acked + (took ?? .seconds(2)))
                }
            }
            print("[integration] propagation A→B,C: worst put+visible \(milliseconds(worst)) ms over 20 puts")

            // Deletes, through the command line and in-process.
            let rm = try cluster.command("A", ["rm", testTable, "IT.CLI"])
            #expect(rm.status == 0, "dsd rm: \(rm)")
            let start = ContinuousClock.now
            try writer.delete(table: testTable, key: "IT.M0")
            for host in ["B", "C"] {
                let gone = eventually(within: .seconds(2)) {
                    cluster.entry(host, testTable, "IT.CLI") == nil && cluster.entry(host, testTable, "IT.M0") == nil
                }
                #expect(gone != nil, "deletes reached \(host)")
                let get = try cluster.command(host, ["get", testTable, "IT.CLI"])
                #expect(get.status == 1, "dsd get of a deleted key on \(host) exits 1: \(get)")
            }
            print("[integration] delete propagation A→B,C: \(milliseconds(ContinuousClock.now - start)) ms")

            // The watcher printed the ADD and DEL lines.
            let printed = eventually(within: .seconds(2), every: .milliseconds(10)) {
                let lines = Set(watch.stdout.split(separator: "\n").map(String.init))
                return lines.contains("ADD IT.CLI HOST9:1872 1") && lines.contains("DEL IT.CLI")
                    && lines.contains("ADD IT.M19 HOST19:1019 1") && lines.contains("DEL IT.M0")
            }
            #expect(printed != nil, "dsd watch on C printed ADD and DEL lines:\n\(watch.stdout)\n\(watch.stderr)")
            let lines = watch.stdout.split(separator: "\n").map(String.init)
            if let add = lines.firstIndex(of: "ADD IT.CLI HOST9:1872 1"), let del = lines.firstIndex(of: "DEL IT.CLI") {
                #expect(add < del, "events arrive in commit order")
            }
            #expect(watch.isRunning, "dsd watch keeps running")
        }
    }
}
