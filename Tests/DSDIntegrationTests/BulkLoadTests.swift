import DSDClient
import DSDCore
import DSDTestSupport
import DSDWire
import Foundation
import Testing

extension Integration {
    /// `dsd load` streams its input in batches, each committed all or none under one version.
    @Suite struct BulkLoad {
        static func write(_ lines: [String], to path: String) throws {
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }

        static func bssLines(_ range: Range<Int>, table: String = "DSD_MTID_BSS") -> [String] {
            range.map { "\(table) BSS.\($0) HOST\($0 % 5000):1700 1" }
        }

        /// Keys `BSS.<i>` the agent holds in `table`.
        static func count(_ cluster: Cluster, _ host: String, _ table: String) throws -> Int {
            try cluster.client(host, timeout: .seconds(10)).list(table: table).count
        }

        @Test(.timeLimit(.minutes(3)))
        func aHundredThousandEntriesLoadAndReachEveryAgent() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            try cluster.startAgent("B")
            #expect(cluster.waitConnected(["A", "B"]) != nil)
            let file = cluster.dir.file("load.txt")
            try Self.write(
                Self.bssLines(0..<100_000) + ["APP_LOADED"] + (0..<10).map { "APP_NEW K\($0) V\($0) 0" }
                    + ["APP_NEW K3 LATER 1"], to: file)
            let load = try cluster.command("A", ["load", "--batch", "5000", file], timeout: .seconds(120))
            #expect(load.status == 0, "\(load)")
            #expect(load.stdout.hasPrefix("loaded 100011 entries in "), "\(load.stdout)")
            #expect(load.stderr.isEmpty, "no progress line on a pipe: \(load.stderr)")
            // 21 batches (20 of BSS, one of the rest): the version moved by about that, not by
            // one per entry.
            let version = try #require(Version(text: cluster.status("A")["version"] ?? ""))
            #expect(version.index < 100, "\(version)")
            #expect(cluster.waitVersion("B", atLeast: version, within: .seconds(20)) != nil)
            #expect(try Self.count(cluster, "B", "DSD_MTID_BSS") == 100_000)
            #expect(cluster.entry("B", "DSD_MTID_BSS", "BSS.99999") == Entry(key: "BSS.99999", value: "HOST4999:1700"))
            #expect(cluster.entry("B", "APP_NEW", "K9") == Entry(key: "K9", value: "V9", valid: false))
            #expect(try cluster.command("B", ["ls"]).lines.contains("APP_LOADED"))
            // A key twice in what could be one batch: the later line wins.
            #expect(cluster.entry("B", "APP_NEW", "K3") == Entry(key: "K3", value: "LATER"))
        }

        @Test(.timeLimit(.minutes(2)))
        func aBadLineStopsTheLoadAndNothingOfItsBatchIsApplied() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            #expect(cluster.waitConnected(["A"]) != nil)
            let file = cluster.dir.file("bad.txt")
            // Lines 1–12000 are good, line 12001 has a bad VALID field.
            try Self.write(
                Self.bssLines(0..<12_000) + ["DSD_MTID_BSS BAD HOST1:1 x"] + Self.bssLines(12_000..<13_000), to: file)
            let load = try cluster.command("A", ["load", "--batch", "5000", file], timeout: .seconds(60))
            #expect(load.status == 6, "\(load)")
            #expect(load.stderr.contains("line 12001"), "\(load.stderr)")
            #expect(load.stderr.contains("10000 entries were loaded (up to line 10000)"), "\(load.stderr)")
            #expect(try Self.count(cluster, "A", "DSD_MTID_BSS") == 10_000)
            #expect(cluster.entry("A", "DSD_MTID_BSS", "BSS.9999") != nil)
            #expect(cluster.entry("A", "DSD_MTID_BSS", "BSS.10000") == nil)

            // --check reads everything and writes nothing.
            let check = try cluster.command("A", ["load", "--check", file])
            #expect(check.status == 6 && check.stderr.contains("line 12001"), "\(check)")
        }

        @Test(.timeLimit(.minutes(2)))
        func aRefusedOperationNamesItsIndexAndNothingOfTheBatchIsApplied() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            #expect(cluster.waitConnected(["A"]) != nil)
            let client = try cluster.client("A")
            let table = "DSD_MTID_METADATA"
            let writes: [BatchWrite] = [
                .put(table: table, Entry(key: "MDS.1.0", value: "HOST1:1872")),
                .delete(table: table, key: "MDS.9.9"),
            ]
            #expect {
                try client.batch(writes)
            } throws: { error in
                guard case ClientError.failedInBatch(let index, .notFound, let message) = error else { return false }
                return index == 1 && message.contains("MDS.9.9") && message.contains("nothing of the batch")
            }
            #expect(cluster.entry("A", table, "MDS.1.0") == nil)
            // A key twice is refused before it is sent.
            #expect {
                try client.batch([writes[0], writes[0]])
            } throws: { error in
                guard case ClientError.invalid(.invalidBatch(.keyTwice(let index, _))) = error else { return false }
                return index == 1
            }
            // A batch that applies: one version for both writes, puts and a delete.
            _ = try client.put(table: table, entry: Entry(key: "MDS.9.9", value: "HOST9:1872"))
            let before = try #require(Version(text: cluster.status("A")["version"] ?? ""))
            let committed = try #require(try client.batch(writes))
            #expect(committed.index == before.index + 1)
            #expect(cluster.entry("A", table, "MDS.1.0")?.value == "HOST1:1872")
            #expect(cluster.entry("A", table, "MDS.9.9") == nil)
        }

        /// A directory SIGKILLed during a load: after its restart every batch is wholly there
        /// or wholly absent, and every acknowledged one is there.
        @Test(.timeLimit(.minutes(3)))
        func aDirectoryKilledMidLoadKeepsWholeBatchesOnly() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            #expect(cluster.waitConnected(["A"]) != nil)
            let file = cluster.dir.file("big.txt")
            try Self.write(Self.bssLines(0..<300_000), to: file)
            let load = try ChildProcess(
                name: "load", executable: try DSDBinary.path(),
                arguments: ["load", "--batch", "1000", file, "--socket", cluster.socket("A")],
                logDirectory: cluster.dir.path)
            #expect(
                eventually(within: .seconds(30), every: .milliseconds(5)) {
                    (cluster.entry("A", "DSD_MTID_BSS", "BSS.20000") != nil) || !load.isRunning
                } != nil)
            cluster.server?.kill()
            #expect(load.waitForExit(within: .seconds(30)))
            #expect(load.exitStatus != 0, "the load cannot have finished: \(load.stdout)")
            // "N entries were loaded (up to line N)": what was acknowledged.
            let acknowledged =
                load.stderr.range(of: #"\d+ entries were loaded"#, options: .regularExpression).flatMap {
                    Int(load.stderr[$0].split(separator: " ")[0])
                } ?? 0
            #expect(acknowledged >= 20_000, "\(load.stderr)")

            try cluster.startServer()
            try cluster.startAgent("B")
            #expect(cluster.waitConnected(["A", "B"], within: .seconds(20)) != nil)
            // Connected is not yet synced: B's snapshot may still be arriving.
            var counted: Int?
            _ = eventually(within: .seconds(20), every: .milliseconds(50)) {
                counted = try? Self.count(cluster, "B", "DSD_MTID_BSS")
                return counted != nil
            }
            let held = try #require(counted, "B never synced\n\(cluster.logs())")
            #expect(held % 1000 == 0, "a batch is all or nothing: \(held)")
            #expect(held >= acknowledged && held <= acknowledged + 1000, "acknowledged \(acknowledged), held \(held)")
            // The batches are the file's prefix.
            #expect(cluster.entry("B", "DSD_MTID_BSS", "BSS.\(held - 1)") != nil)
            #expect(cluster.entry("B", "DSD_MTID_BSS", "BSS.\(held)") == nil)
        }
    }
}
