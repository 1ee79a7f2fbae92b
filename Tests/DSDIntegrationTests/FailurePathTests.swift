import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Testing

extension Integration {
    /// Every documented failure of the `dsd` command line, run with the real binary against
    /// real processes on loopback: each says in a sentence what failed, naming the table, key,
    /// path or address, never as a Swift enum dump or a bare errno, and exits with the code
    /// the README's table gives.
    @Suite struct FailurePaths {
        @Test(.timeLimit(.minutes(3)))
        func clientCommands() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            #expect(cluster.waitConnected(["A"]) != nil, "A connects\n\(cluster.logs())")
            let exits = try ReadmeExitStatus.load()
            func run(_ arguments: [String], socket: Bool = true) throws -> CommandOutcome {
                socket ? try cluster.command("A", arguments) : try runDSD(arguments, in: cluster.dir)
            }
            let table = testTable

            // Usage errors: the message and the usage, exit 2.
            for arguments in [
                ["bogus"], ["get"], ["heartbeat", table, "K", "--time-max-ms", "0"], ["part", table, "x"],
            ] {
                let outcome = try run(arguments, socket: false)
                FailureCheck.expect(outcome, exits["usage"], usage: true, arguments)
            }
            FailureCheck.expect(
                try run(["agent", "--server", "nonsense", "--cluster-key", cluster.keyFile], socket: false),
                exits["usage"], usage: true, mentions: ["nonsense"], ["agent --server nonsense"])

            // Not found.
            FailureCheck.expect(
                try run(["get", table, "NOKEY"]), exits["not found"], mentions: ["NOKEY", table], "get")
            FailureCheck.expect(
                try run(["get", "NOTABLE", "K"]), exits["not found"], mentions: ["NOTABLE"], "get table")
            FailureCheck.expect(try run(["rm", table, "NOKEY"]), exits["not found"], mentions: ["NOKEY", table], "rm")
            FailureCheck.expect(try run(["ls", "NOTABLE"]), exits["not found"], mentions: ["NOTABLE"], "ls")
            FailureCheck.expect(try run(["watch", "NOTABLE"]), exits["not found"], mentions: ["NOTABLE"], "watch")
            FailureCheck.expect(try run(["find", "MDS.99"]), exits["not found"], mentions: ["MDS.99"], "find")
            let metadata = StandardTable.metadata.name
            FailureCheck.expect(
                try run(["part", metadata, "3"]), exits["not found"], mentions: [metadata, "partition 3"],
                "part on a table that is not a partition table")
            FailureCheck.expect(
                try run(["part", StandardTable.metadataPart.name, "3"]), exits["not found"],
                mentions: [StandardTable.metadataPart.name], "part on an empty partition table")

            // No valid server or route.
            #expect(try run(["put", metadata, "MDS.77", "HOST77:1872"]).status == 0)
            FailureCheck.expect(
                try run(["find", "MDS.77"]), exits["no valid server or route"], mentions: ["HOST77"], "find")
            #expect(try run(["put", metadata, "MDS.78", "HOST77:1872", "--invalid"]).status == 0)
            FailureCheck.expect(
                try run(["find", "MDS.78"]), exits["no valid server or route"], mentions: ["MDS.78"], "find invalid")

            // Rejected.
            #expect(try run(["mktable", "MYTABLE"]).status == 0)
            FailureCheck.expect(
                try run(["mktable", "MYTABLE"]), exits["rejected (invalid input)"], mentions: ["MYTABLE"],
                "mktable twice")
            FailureCheck.expect(
                try run(["mktable", "BAD NAME"]), exits["rejected (invalid input)"], mentions: ["space"],
                "bad table name")
            FailureCheck.expect(
                try run(["rmtable", metadata]), exits["rejected (invalid input)"], mentions: [metadata],
                "rmtable standard")
            FailureCheck.expect(
                try run(["put", table, "A B", "V"]), exits["rejected (invalid input)"], mentions: ["space"], "key")
            FailureCheck.expect(
                try run(["put", table, "K", "V\tW"]), exits["rejected (invalid input)"], mentions: ["tab"], "value")
            FailureCheck.expect(
                try run(["put", table, "K", String(repeating: "x", count: 5000)]), exits["rejected (invalid input)"],
                mentions: ["5000", "\(Limits.maxValueBytes)"], "long value")
            let bad = cluster.dir.file("bad.txt")
            try "\(table) K V 1\n\(table) K\n".write(toFile: bad, atomically: true, encoding: .utf8)
            FailureCheck.expect(
                try run(["load", bad]), exits["rejected (invalid input)"], mentions: [bad, "line 2"], "load")

            // Agent not reachable.
            let none = cluster.dir.file("none.sock")
            FailureCheck.expect(
                try runDSD(["get", table, "K", "--socket", none], in: cluster.dir), exits["agent not reachable"],
                mentions: [none, "dsd agent"], "no socket")

            // Not committed: the directory is gone.
            cluster.server?.kill()
            #expect(
                eventually(within: .seconds(10), every: .milliseconds(20)) { cluster.status("A")["state"] == "stale" }
                    != nil)
            FailureCheck.expect(
                try run(["put", table, "K", "V"]), exits["not committed (directory unreachable or timed out)"],
                mentions: ["unreachable"], "put without a directory")
            let status = cluster.status("A")
            #expect(status["last_error"]?.contains("127.0.0.1:\(cluster.port)") == true, "last_error: \(status)")
        }

        @Test(.timeLimit(.minutes(2)))
        func daemonStartup() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            let exits = try ReadmeExitStatus.load()
            let other = exits["other failure"]
            func server(_ key: String, data: String, listen: Int? = nil) throws -> CommandOutcome {
                try runDSD(
                    [
                        "server", "--cluster-key", key, "--data", data, "--listen",
                        "127.0.0.1:\(listen ?? cluster.port)",
                    ], in: cluster.dir, timeout: .seconds(10))
            }
            let missing = cluster.dir.file("missing.key")
            FailureCheck.expect(
                try server(missing, data: cluster.dataDirectory), other, mentions: [missing, "dsd keygen"], "no key")
            let exposed = cluster.dir.file("exposed.key")
            try Cluster.keygen(into: exposed, in: cluster.dir)
            chmod(exposed, 0o644)
            FailureCheck.expect(
                try server(exposed, data: cluster.dataDirectory), other, mentions: ["chmod 600 \(exposed)"], "0644 key")
            chmod(exposed, 0o640)
            FailureCheck.expect(
                try server(exposed, data: cluster.dataDirectory), other, mentions: ["chmod 600 \(exposed)"], "0640 key")
            let short = cluster.dir.file("short.key")
            try writePrivateFile(short, contents: "abcd\n")
            FailureCheck.expect(try server(short, data: cluster.dataDirectory), other, mentions: [short], "short key")
            let notHex = cluster.dir.file("nothex.key")
            try writePrivateFile(notHex, contents: String(repeating: "zz", count: 20))
            FailureCheck.expect(
                try server(notHex, data: cluster.dataDirectory), other, mentions: [notHex, "hex"], "hex")
            let file = cluster.dir.file("plain-file")
            try "x".write(toFile: file, atomically: true, encoding: .utf8)
            FailureCheck.expect(
                try server(cluster.keyFile, data: file + "/log"), other, mentions: [file], "data under a file")

            // A missing parent of --data is created, as `up` and `agent` do.
            let nested = cluster.dir.file("a/b/data")
            let first = try ChildProcess(
                name: "nested", executable: cluster.dsd,
                arguments: [
                    "server", "--cluster-key", cluster.keyFile, "--data", nested, "--listen",
                    "127.0.0.1:\(cluster.port)",
                ],
                logDirectory: cluster.dir.path)
            defer { first.kill() }
            #expect(
                eventually(within: .seconds(10), every: .milliseconds(20)) { first.stderr.contains("listening") }
                    != nil,
                "the server starts with missing parents of --data: \(first.stderr)")
            let address = "127.0.0.1:\(cluster.port)"
            FailureCheck.expect(
                try server(cluster.keyFile, data: cluster.dir.file("second")), other, mentions: [address, "--listen"],
                "address in use")

            let mountpoint = cluster.dir.file("no-such-mountpoint")
            FailureCheck.expect(
                try runDSD(
                    [
                        "up", "--data", cluster.dir.file("up"), "--listen", "127.0.0.1:0", "--socket",
                        cluster.dir.file("up.sock"), "--mount", mountpoint,
                    ], in: cluster.dir, timeout: .seconds(10)), other, mentions: ["mkdir \(mountpoint)"],
                "missing mountpoint")
        }

        /// A user who may not use the socket is told who may, and that the mount serves reads
        /// to everyone.
        @Test(.timeLimit(.minutes(1)))
        func socketPermissionHint() throws {
            let setpriv = try SystemTool.path("setpriv")
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            chmod(cluster.dir.path, 0o755)
            let outcome = try run(
                setpriv,
                [
                    "--reuid=65534", "--regid=65534", "--clear-groups", cluster.dsd, "get", testTable, "K", "--socket",
                    cluster.socket("A"),
                ], in: cluster.dir)
            #expect(outcome.status == 4, "\(outcome)")
            #expect(
                outcome.stderr.contains("Permission denied") || outcome.stderr.contains("permission denied"),
                "\(outcome)")
            #expect(outcome.stderr.contains("writer group") && outcome.stderr.contains("mount"), "\(outcome)")
            #expect(!outcome.stderr.contains("is `dsd agent`"), "not the 'is it running' hint: \(outcome)")
        }

        @Test(.timeLimit(.minutes(1)))
        func exitStatusIsTheReadmes() throws {
            let readme = try ReadmeExitStatus.load()
            let dir = try TempDirectory()
            let help = try runDSD(["--help"], in: dir)
            let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(flat.contains(readme.sentence), "dsd --help states the README's exit codes: \(help.stdout)")
            #expect(readme.codes.count == 8 && readme.codes.values.sorted() == Array(0...7), "\(readme.codes)")
        }
    }
}

/// The README's "Exit status: 0 ok, 1 not found, …" sentence, read from the source tree.
struct ReadmeExitStatus {
    var sentence: String
    var codes: [String: Int32]

    subscript(meaning: String) -> Int32 {
        guard let code = codes[meaning] else {
            Issue.record("the README's exit status table has no '\(meaning)': \(codes)")
            return -1
        }
        return code
    }

    static func load() throws -> ReadmeExitStatus {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let flat = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard let start = flat.range(of: "Exit status: "), let end = flat[start.upperBound...].range(of: "failure.")
        else { throw HarnessError("README.md has no exit status sentence") }
        let sentence = String(flat[start.lowerBound..<end.upperBound])
        var codes: [String: Int32] = [:]
        // "0 ok, 1 not found, 5 not committed (directory unreachable or timed out), …"
        let body = flat[start.upperBound..<end.upperBound].dropLast()
        var depth = 0
        var part = ""
        for character in body + "," {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if character == ",", depth == 0 {
                let trimmed = part.trimmingCharacters(in: .whitespaces)
                if let space = trimmed.firstIndex(of: " "), let code = Int32(trimmed[..<space]) {
                    codes[String(trimmed[trimmed.index(after: space)...])] = code
                }
                part = ""
            } else {
                part.append(character)
            }
        }
        return ReadmeExitStatus(sentence: sentence, codes: codes)
    }
}

/// What every failure message must be.
enum FailureCheck {
    /// Swift enum dumps (`noSuchEntry(`, `DSDCore.`, `Optional(`) and bare errno numbers.
    static let forbidden: [String] = [#"\w\("#, #"DSD[A-Z][a-z]\w*\."#, #"errno \d+"#, #"\(errno: \d+\)"#]

    static func expect(
        _ outcome: CommandOutcome, _ status: Int32, usage: Bool = false, mentions: [String] = [], _ what: Any,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let text = outcome.stderr
        #expect(
            outcome.status == status, "\(what): exit \(outcome.status), want \(status): \(text)",
            sourceLocation: sourceLocation)
        #expect(!outcome.hung, "\(what) hung", sourceLocation: sourceLocation)
        let message = text.split(separator: "\n").filter { !$0.contains(" info ") && !$0.contains(" notice ") }
        #expect(!message.isEmpty, "\(what) says why on standard error", sourceLocation: sourceLocation)
        for pattern in forbidden {
            let dumps = message.filter { $0.range(of: pattern, options: .regularExpression) != nil }
            #expect(dumps.isEmpty, "\(what): '\(pattern)' in \(dumps)", sourceLocation: sourceLocation)
        }
        #expect(
            text.contains("Usage:") == usage, "\(what): usage shown only for usage errors: \(text)",
            sourceLocation: sourceLocation)
        for name in mentions {
            #expect(text.contains(name), "\(what) names \(name): \(text)", sourceLocation: sourceLocation)
        }
    }
}
