import DSDTestSupport
import Foundation

/// The simulated hosts of the multi-host route test: a directory namespace `dsdt-dir` and
/// host namespaces `dsdt-h1…`, each host joined to the directory by two veth links (route 0
/// and route 1). Link `L` of host `N` is the /30 `10.77.N.(4L)`: the directory side holds
/// `.4L+1`, the host side `.4L+2`. Every address lives only inside these namespaces;
/// deleting the namespaces removes the links with them.
struct TestNetwork {
    static let prefix = "dsdt-"
    static let directoryNamespace = "dsdt-dir"

    let ip: String
    let hosts: Int

    init(hosts: Int) throws {
        self.ip = try SystemTool.path("ip")
        self.hosts = hosts
    }

    static func hostNamespace(_ host: Int) -> String { "dsdt-h\(host)" }
    /// The host-side interface of a link (in the host's namespace).
    static func hostInterface(_ host: Int, link: Int) -> String { "dsdt-h\(host)\(link)" }
    static func directoryInterface(_ host: Int, link: Int) -> String { "dsdt-d\(host)\(link)" }
    static func hostAddress(_ host: Int, link: Int) -> String { "10.77.\(host).\(4 * link + 2)" }
    static func directoryAddress(_ host: Int, link: Int) -> String { "10.77.\(host).\(4 * link + 1)" }
    static func namespacePath(_ name: String) -> String { "/run/netns/\(name)" }

    /// Runs `ip ARGS`; throws with its output when it fails.
    @discardableResult
    func ip(_ arguments: [String], in scratch: TempDirectory) throws -> CommandOutcome {
        let outcome = try run(ip, arguments, in: scratch)
        guard outcome.status == 0 else { throw HarnessError("ip \(arguments.joined(separator: " ")): \(outcome)") }
        return outcome
    }

    /// Link and neighbour state of host `host`'s links on both sides, for failure messages.
    func diagnostics(host: Int, in scratch: TempDirectory) -> String {
        let commands = [
            ["-n", Self.hostNamespace(host), "-br", "link", "show"],
            ["-n", Self.directoryNamespace, "-br", "link", "show"],
            ["-n", Self.hostNamespace(host), "neigh", "show"],
            ["-n", Self.directoryNamespace, "neigh", "show"],
        ]
        return commands.map { arguments in
            let outcome = try? run(ip, arguments, in: scratch)
            return "$ ip \(arguments.joined(separator: " "))\n\(outcome.map { $0.stdout + $0.stderr } ?? "?")"
        }.joined(separator: "\n")
    }

    /// Deletes every namespace with our prefix (left over from an interrupted run, or ours).
    func removeAll(in scratch: TempDirectory) {
        guard let list = try? run(ip, ["netns", "list"], in: scratch) else { return }
        for line in list.stdout.split(separator: "\n") {
            guard let name = line.split(separator: " ").first, name.hasPrefix(Self.prefix) else { continue }
            _ = try? run(ip, ["netns", "delete", String(name)], in: scratch)
        }
    }

    /// Builds the namespaces and links, all up.
    func create(in scratch: TempDirectory) throws {
        let namespaces = [Self.directoryNamespace] + (1...hosts).map(Self.hostNamespace)
        for namespace in namespaces {
            try ip(["netns", "add", namespace], in: scratch)
            try ip(["-n", namespace, "link", "set", "lo", "up"], in: scratch)
        }
        for host in 1...hosts {
            for link in 0..<2 {
                let dirSide = Self.directoryInterface(host, link: link)
                let hostSide = Self.hostInterface(host, link: link)
                try ip(
                    [
                        "-n", Self.directoryNamespace, "link", "add", dirSide, "type", "veth", "peer", "name", hostSide,
                        "netns", Self.hostNamespace(host),
                    ], in: scratch)
                try ip(
                    [
                        "-n", Self.directoryNamespace, "addr", "add", Self.directoryAddress(host, link: link) + "/30",
                        "dev", dirSide,
                    ], in: scratch)
                try ip(
                    [
                        "-n", Self.hostNamespace(host), "addr", "add", Self.hostAddress(host, link: link) + "/30",
                        "dev", hostSide,
                    ], in: scratch)
                try ip(["-n", Self.directoryNamespace, "link", "set", dirSide, "up"], in: scratch)
                try ip(["-n", Self.hostNamespace(host), "link", "set", hostSide, "up"], in: scratch)
            }
        }
    }

}
