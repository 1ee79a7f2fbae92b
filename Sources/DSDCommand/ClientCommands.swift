import ArgumentParser
import DSDClient
import DSDCore

/// Runs `body` and turns a client error into the documented exit status.
func runClient<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        throw ExitStatus.fail(error)
    }
}

struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print one entry as `<value> <valid>`.",
        discussion: "Example: dsd get DSD_MTID_METADATA MDS.1   →   HOST9:1872 1"
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "Table name, e.g. DSD_MTID_METADATA.") var table: String
    @Argument(help: "Entry key, e.g. MDS.1.") var key: String

    func run() throws {
        let entry = try runClient { try client.connect().get(table: table, key: key) }
        print("\(entry.value) \(entry.valid ? 1 : 0)")
    }
}

struct PutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Add or modify an entry; returns once the directory committed it.",
        discussion: "Example: dsd put DSD_MTID_METADATA MDS.6 HOST6:1920"
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "Table name.") var table: String
    @Argument(help: "Entry key.") var key: String
    @Argument(help: "Entry value, e.g. a server route HOST6:1920.") var value: String
    @Flag(name: .long, help: "Store the entry as invalid (valid = 0).") var invalid = false

    func run() throws {
        let entry = Entry(key: key, value: value, valid: !invalid)
        _ = try runClient { try client.connect().put(table: table, entry: entry) }
    }
}

struct RmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete an entry; returns once the directory committed it.",
        discussion: "Example: dsd rm DSD_MTID_METADATA MDS.6"
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "Table name.") var table: String
    @Argument(help: "Entry key.") var key: String

    func run() throws {
        _ = try runClient { try client.connect().delete(table: table, key: key) }
    }
}

struct LsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List a table's entries whose key starts with PREFIX (all without one), in key order.",
        discussion:
            "Example: dsd ls DSD_HOST_ROUTE HOST9.   →   HOST9.0 16.7.13.1 1 …\n         dsd ls   (no table: list the tables)"
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "Table name; omit to list the tables.") var table: String?
    @Argument(help: "Key prefix; empty or omitted means the whole table.") var prefix: String = ""

    func run() throws {
        let connection = try client.connect()
        guard let table else {
            for name in try runClient({ try connection.tables() }) { print(name) }
            return
        }
        for entry in try runClient({ try connection.list(table: table, prefix: prefix) }) {
            print("\(entry.key) \(entry.value) \(entry.valid ? 1 : 0)")
        }
    }
}

struct FindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find",
        abstract: "Print the complete route of an instance's current primary.",
        discussion:
            "Example: dsd find MDS.1   →   16.7.13.1:1872\nExit 1: no such instance; exit 3: no valid server or route."
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "Service instance (MDS.1), server instance (MDS.1.1) or any server-table key.") var instance: String

    func run() throws {
        print(try runClient { try client.connect().find(instance) })
    }
}

struct PartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "part",
        abstract: "Print the complete route of the server for partition N of a partition table.",
        discussion: "Example: dsd part DSD_MTID_METADATA_PART 8   →   route of MDS.2 (8 mod 3 = 2)"
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "Partition table, e.g. DSD_MTID_METADATA_PART.") var table: String
    @Argument(help: "Partition number.") var number: UInt64

    func run() throws {
        print(try runClient { try client.connect().partition(table: table, number: number) })
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print the local agent's state: upstream, version, staleness, counts.",
        discussion: "Example: dsd status --socket /run/dsd/agent.sock"
    )
    @OptionGroup var client: ClientOptions

    func run() throws {
        for (name, value) in try runClient({ try client.connect().status() }) {
            print("\(name): \(value)")
        }
    }
}

struct MkTableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mktable",
        abstract: "Create a table.",
        discussion: "Example: dsd mktable APP_CACHE"
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "New table name.") var table: String

    func run() throws {
        _ = try runClient { try client.connect().createTable(table) }
    }
}

struct RmTableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rmtable",
        abstract: "Drop an empty table, or with --force a table and all its entries.",
        discussion: """
            Examples:
              dsd rmtable APP_CACHE           # only if it holds no entry
              dsd rmtable APP_CACHE --force   # with its entries, on every host
            Without --force a table that holds entries is refused (exit 6)
            and nothing changes, like rmdir on the mount. Standard tables
            cannot be dropped.
            """
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "Table name.") var table: String
    @Flag(name: .long, help: "Drop the table even if it holds entries, deleting them everywhere.")
    var force = false

    func run() throws {
        _ = try runClient { try client.connect().dropTable(table, force: force) }
    }
}
