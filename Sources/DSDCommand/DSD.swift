/// The `dsd` executable: argument parsing and wiring of the modules.
///
/// This is the only target that knows every module. Each subcommand turns its flags into the
/// `Settings` of the component it runs, starts it, and maps typed errors to exit codes
/// (`ExitStatus`). Nothing below this target reads the environment.
import ArgumentParser

struct DSD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsd",
        abstract: "A dynamic server directory: find servers instantly, learn of failures at once.",
        discussion: """
            Start everything on one machine:   dsd up --mount /dsd
            Look up a server:                  dsd find MDS.1
            Watch a table:                     dsd watch DSD_MTID_METADATA

            Exit status: 0 ok, 1 not found, 2 usage, 3 no valid server or route,
            4 agent not reachable, 5 not committed (directory unreachable or timed out),
            6 rejected (invalid input), 7 other failure.
            """,
        subcommands: [
            ServerCommand.self, AgentCommand.self, UpCommand.self, KeygenCommand.self,
            GetCommand.self, PutCommand.self, RmCommand.self, LsCommand.self,
            FindCommand.self, PartCommand.self, WatchCommand.self, StatusCommand.self, HeartbeatCommand.self,
            LoadCommand.self, DumpCommand.self, MkTableCommand.self, RmTableCommand.self,
        ]
    )
}
