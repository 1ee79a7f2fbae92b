import DSDTestSupport
import Foundation
import Testing

extension Integration {
    /// `dsd dump` is the documented backup: loading it into an empty directory gives back
    /// every table, empty ones included.
    @Suite struct Backup {
        @Test(.timeLimit(.minutes(2)))
        func dumpAndLoadKeepEmptyTables() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            #expect(cluster.waitConnected(["A"]) != nil)
            #expect(try cluster.command("A", ["mktable", "APP_EMPTY"]).status == 0)
            #expect(try cluster.command("A", ["mktable", "APP_FULL"]).status == 0)
            #expect(try cluster.command("A", ["put", "APP_FULL", "K", "V"]).status == 0)
            let dump = try cluster.command("A", ["dump"])
            #expect(dump.status == 0, "\(dump)")
            #expect(dump.lines.contains("APP_EMPTY"), "the dump keeps the empty table: \(dump.stdout)")
            #expect(dump.lines.contains("APP_FULL K V 1"), "\(dump.stdout)")
            let backup = cluster.dir.file("backup.txt")
            try dump.stdout.write(toFile: backup, atomically: true, encoding: .utf8)

            #expect(try cluster.command("A", ["rmtable", "APP_EMPTY"]).status == 0)
            #expect(try cluster.command("A", ["rmtable", "APP_FULL", "--force"]).status == 0)
            let load = try cluster.command("A", ["load", backup])
            #expect(load.status == 0, "\(load)")
            let tables = try cluster.command("A", ["ls"])
            #expect(tables.lines.contains("APP_EMPTY") && tables.lines.contains("APP_FULL"), "\(tables)")
            #expect(try cluster.command("A", ["get", "APP_FULL", "K"]).stdout == "V 1\n")
        }
    }
}
