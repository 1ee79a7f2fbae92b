/// The `dsd` executable: argument parsing and wiring of the modules.
///
/// This is the only target that knows every module. Each subcommand turns its flags into the
/// `Settings` of the component it runs, starts it, and maps typed errors to exit codes
/// (`ExitStatus`). Nothing below this target reads the environment.
import ArgumentParser
import Glibc

struct DSD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsd",
        abstract: "A dynamic server directory: find servers instantly, learn of failures at once.",
        discussion: """
            Start everything on one machine:   dsd up --mount /dsd
            Look up a server:                  dsd find MDS.1
            Watch a table:                     dsd watch DSD_MTID_METADATA

            """ + helpLines(ExitStatus.summary),
        subcommands: [
            ServerCommand.self, AgentCommand.self, NodeCommand.self, UpCommand.self, KeygenCommand.self,
            GetCommand.self, PutCommand.self, RmCommand.self, LsCommand.self,
            FindCommand.self, PartCommand.self, WatchCommand.self, StatusCommand.self, HeartbeatCommand.self,
            LoadCommand.self, DumpCommand.self, MkTableCommand.self, RmTableCommand.self,
        ]
    )
}

extension DSD {
    /// Parses the command line and runs the command. A parse error is a usage error: its
    /// message and the usage, exit 2. A failure while running is one sentence and its exit
    /// code (`ExitStatus`), without the usage.
    static func parseAndRun() async -> Never {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            let message = fullMessage(for: error)
            if exitCode(for: error) == .success {
                print(message)
                Glibc.exit(ExitStatus.ok.rawValue)
            }
            printError(message)
            Glibc.exit(ExitStatus.usage.rawValue)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var command = command
                try command.run()
            }
            Glibc.exit(ExitStatus.ok.rawValue)
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch {
            // `dsd help …` answers by throwing its text.
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Glibc.exit(ExitStatus.ok.rawValue)
            }
            Glibc.exit(ExitStatus.fail(error).rawValue)
        }
    }
}

/// `text` broken at spaces into lines of at most `width` columns, so that argument-parser,
/// which rewraps only lines wider than the terminal, prints them as they are on any terminal
/// of 80 columns or more.
func helpLines(_ text: String, width: Int = 79) -> String {
    var lines: [String] = []
    var line = ""
    for word in text.split(separator: " ") {
        if !line.isEmpty, line.count + 1 + word.count > width {
            lines.append(line)
            line = ""
        }
        line += line.isEmpty ? String(word) : " " + word
    }
    if !line.isEmpty { lines.append(line) }
    return lines.joined(separator: "\n")
}
