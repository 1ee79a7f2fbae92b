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

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Add the entries of a text file (one `TABLE KEY VALUE [VALID]` a line).",
        discussion: """
            Example: dsd load mount-examples/seed-tables.txt
            A line of a table name alone creates that table even without entries.
            Tables that do not exist are created. The whole file is checked before anything
            is written; a bad line is reported with its number and nothing is loaded.
            """
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "File to load; - for standard input.") var file: String

    func run() throws {
        let text: String
        do throws(PosixError) {
            let bytes = file == "-" ? try Streams.readAll(from: STDIN_FILENO) : try Streams.readFile(file)
            text = String(decoding: bytes, as: UTF8.self)
        } catch {
            printError("dsd: cannot read \(file): \(error.reason)")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        let document: LoadFormat.Document
        do {
            document = try LoadFormat.parse(text)
        } catch {
            printError("dsd: \(file), \(error); nothing was loaded")
            throw ExitCode(ExitStatus.rejected.rawValue)
        }
        let connection = try client.connect()
        let existing = Set(try runClient { try connection.tables() })
        for table in document.tableNames where !existing.contains(table) {
            _ = try runClient { try connection.createTable(table) }
        }
        for item in document.items {
            _ = try runClient { try connection.put(table: item.table, entry: item.entry) }
        }
        print("loaded \(document.items.count) entries into \(document.tableNames.count) tables")
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
