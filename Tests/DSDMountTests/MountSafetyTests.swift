import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Testing

/// What must never cost an operator data: `rmdir` of a table with entries, and writes that
/// would each commit a fragment of a line.
extension TwoHostMountTests {
    @Test(.timeLimit(.minutes(1))) func rmdirOfATableWithEntriesIsRefusedAndChangesNothing() throws {
        let tables = path("A", "tables")
        #expect(try shell("mkdir \(tables)/SAFE_T && echo 'v 1' > \(tables)/SAFE_T/k", in: cluster.dir).status == 0)
        #expect(eventually(within: .seconds(3)) { read(path("B", "tables/SAFE_T/k")) == "v 1\n" } != nil)

        let refused = try shell("rmdir \(tables)/SAFE_T", in: cluster.dir)
        #expect(refused.status != 0, "rmdir of a non-empty table fails")
        #expect(refused.stderr.contains("not empty"), "rmdir says why: \(refused.stderr)")
        usleep(200_000)
        #expect(read(path("B", "tables/SAFE_T/k")) == "v 1\n", "the entry is still there on every host")
        #expect(cluster.entry("B", "SAFE_T", "k") == Entry(key: "k", value: "v"))

        let cli = try cluster.command("A", ["rmtable", "SAFE_T"])
        #expect(cli.status == 6, "dsd rmtable without --force refuses a table with entries: \(cli)")
        #expect(cluster.entry("B", "SAFE_T", "k") != nil)

        // rm -r unlinks the entries first, then the empty table goes.
        #expect(try shell("rm -r \(tables)/SAFE_T", in: cluster.dir).status == 0)
        #expect(
            eventually(within: .seconds(3)) { !FileManager.default.fileExists(atPath: path("B", "tables/SAFE_T")) }
                != nil)

        // dsd rmtable --force drops a table with its entries.
        try cluster.client("A").createTable("SAFE_F")
        try cluster.client("A").put(table: "SAFE_F", entry: Entry(key: "k", value: "v"))
        let forced = try cluster.command("A", ["rmtable", "SAFE_F", "--force"])
        #expect(forced.status == 0, "\(forced)")
        #expect(
            eventually(within: .seconds(3)) {
                cluster.status("B").isEmpty == false && cluster.entry("B", "SAFE_F", "k") == nil
            } != nil)
    }

    @Test(.timeLimit(.minutes(1))) func onlyAWholeLineAtOffsetZeroCommits() throws {
        let entry = path("A", "tables/\(table)/GW.OFFSET")
        #expect(try shell("echo HOST1:1700 > \(entry)", in: cluster.dir).status == 0)

        // bash's printf writes "a\n" at offset 0, then "b\n" at offset 2.
        let split = try shell("bash -c \"printf 'a\\\\nb\\\\n' > \(entry)\"", in: cluster.dir)
        #expect(split.status != 0, "the second write(2) fails: \(split)")
        #expect(split.stderr.contains("Invalid argument"), "\(split.stderr)")
        #expect(read(entry) == "a 1\n", "the first line committed, the fragment did not")
        #expect(eventually(within: .seconds(3)) { read(path("B", "tables/\(table)/GW.OFFSET")) == "a 1\n" } != nil)

        let append = try shell("echo x >> \(entry)", in: cluster.dir)
        #expect(append.status != 0, "an append is refused: \(append)")
        #expect(read(entry) == "a 1\n", "the entry is as committed")
        usleep(200_000)
        #expect(cluster.entry("B", table, "GW.OFFSET") == Entry(key: "GW.OFFSET", value: "a"))
    }
}
