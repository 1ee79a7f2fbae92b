import DSDTestSupport
import Foundation
import Testing

extension Integration {
    /// `--help` shows each command's examples as written (argument-parser rewraps only
    /// lines wider than the terminal), and every default once.
    @Suite struct HelpText {
        static let commands = [
            "", "server", "agent", "node", "up", "keygen", "get", "put", "rm", "ls", "find", "part", "watch", "status",
            "heartbeat", "load", "dump", "mktable", "rmtable",
        ]

        /// `dsd COMMAND --help` with the terminal `columns` wide.
        static func help(_ command: String, columns: Int, in dir: TempDirectory) throws -> String {
            let arguments = (command.isEmpty ? [] : [command]) + ["--help"]
            let outcome = try run("/usr/bin/env", ["COLUMNS=\(columns)", try DSDBinary.path()] + arguments, in: dir)
            #expect(outcome.status == 0, "\(command) --help: \(outcome)")
            return outcome.stdout
        }

        /// The discussion: after the OVERVIEW paragraph (prose, which may wrap), before USAGE.
        static func discussion(_ help: String) -> String {
            let head = help.components(separatedBy: "\nUSAGE:").first ?? help
            return head.components(separatedBy: "\n\n").dropFirst().joined(separator: "\n\n")
        }

        @Test(.timeLimit(.minutes(1)), arguments: commands)
        func examplesAreVerbatimAtEighty(command: String) throws {
            let dir = try TempDirectory()
            let narrow = Self.discussion(try Self.help(command, columns: 80, in: dir))
            let wide = Self.discussion(try Self.help(command, columns: 400, in: dir))
            #expect(!wide.isEmpty, "dsd \(command) --help has a discussion")
            #expect(narrow == wide, "dsd \(command) --help rewraps its discussion at 80 columns:\n\(narrow)")
        }

        @Test(.timeLimit(.minutes(1)), arguments: commands)
        func defaultsPrintOnce(command: String) throws {
            let dir = try TempDirectory()
            let help = try Self.help(command, columns: 400, in: dir)
            let options = help.components(separatedBy: "\nOPTIONS:").dropFirst().joined()
            // One option a line at 400 columns.
            for line in options.split(separator: "\n") {
                let defaults = line.components(separatedBy: "(default").count - 1
                #expect(defaults <= 1, "dsd \(command) --help: \(line)")
            }
        }
    }
}
