import ArgumentParser
import DSDClient
import DSDCore
import DSDPosix
import FoundationEssentials
import Glibc

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Stream changes of a table as ADD/DEL/RESCAN lines, from now on.",
        discussion: """
            Example: dsd watch DSD_MTID_METADATA MDS.1
              ADD MDS.1.1 HOST9:1872 0
              ADD MDS.1 HOST11:1872 1
            RESCAN means events were dropped because the reader fell behind: re-read
            the table.
            """
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "Table name.") var table: String
    @Argument(help: "Only keys starting with this prefix.") var prefix: String = ""

    func run() throws {
        let connection = try client.connect()
        try runClient {
            try connection.watch(table: table, prefix: prefix) { event in
                Streams.write(event.line + "\n", to: STDOUT_FILENO)
                return true
            }
        }
    }
}

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print every table and its entries in the `dsd load` format (a backup).",
        discussion: "Example: dsd dump > backup.txt && dsd load backup.txt"
    )
    @OptionGroup var client: ClientOptions

    func run() throws {
        let connection = try client.connect()
        let tables = try runClient { try connection.dump() }
        print(LoadFormat.render(tables: tables.map { ($0.table, $0.entries) }), terminator: "")
    }
}
