import Foundation

/// `mount -t fuse.dsd` support, so `/dsd` can be an fstab line:
///
///     HOST9  /dsd  fuse.dsd  server=10.0.0.1:7400,cluster_key=/etc/dsd/cluster.key,_netdev  0 0
///
/// mount.fuse3 runs `dsd HOST9 /dsd -o OPTIONS`. That form starts `dsd agent --host HOST9
/// --mount /dsd …` as a detached daemon, waits until the mount is up and exits 0 (mount(8)
/// expects the helper to return), or prints why not and exits 1.
enum MountHelper {
    /// Options a mount line may carry (`key=value`); anything else mount(8) passes along
    /// (`rw`, `_netdev`, `nosuid`, …) is ignored.
    static let optionFlags: [String: String] = [
        "server": "--server", "cluster_key": "--cluster-key", "socket": "--socket", "cache": "--cache",
        "owner": "--owner", "writer_group": "--writer-group", "probe_port": "--probe-port",
        "log_level": "--log-level",
    ]

    /// The `agent` arguments for `dsd SOURCE MOUNTPOINT -o OPTIONS`, or nil when the command
    /// line is not in that form.
    static func agentArguments(_ arguments: [String]) -> [String]? {
        guard arguments.count >= 3, !arguments[1].hasPrefix("-"), arguments[2].hasPrefix("/"),
            !DSD.configuration.subcommands.contains(where: { $0.configuration.commandName == arguments[1] })
        else { return nil }
        var result = ["agent", "--host", arguments[1], "--mount", arguments[2]]
        var index = 3
        while index < arguments.count {
            if arguments[index] == "-o", index + 1 < arguments.count {
                for option in arguments[index + 1].split(separator: ",") {
                    let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { continue }
                    if parts[0] == "route" {
                        // Several routes: route=16.7.13.1+16.7.14.1 (commas separate options).
                        for route in parts[1].split(separator: "+") { result += ["--route", String(route)] }
                    } else if let flag = optionFlags[parts[0]] {
                        result += [flag, parts[1]]
                    }
                }
                index += 2
            } else {
                index += 1
            }
        }
        return result
    }

    /// Starts the agent detached and waits for its mount. Returns the exit status.
    static func run(agentArguments: [String], mountpoint: String) -> Int32 {
        let log = "/var/log/dsd-agent-\(mountpoint.split(separator: "/").joined(separator: "-")).log"
        let process = Process()
        // setsid: the daemon leaves mount(8)'s session and survives it.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = [URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path] + agentArguments
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: log) ?? FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: log) ?? FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            printError("dsd: cannot start the agent: \(error)")
            return 1
        }
        for _ in 0..<200 {
            if isMounted(mountpoint) { return 0 }
            if !process.isRunning { break }
            usleep(50_000)
        }
        printError("dsd: the agent did not mount \(mountpoint); see \(log)")
        return 1
    }

    static func isMounted(_ path: String) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return false }
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 2 && fields[1] == path && fields[2].hasPrefix("fuse")
        }
    }
}

@main
enum Main {
    static func main() async {
        if let arguments = MountHelper.agentArguments(CommandLine.arguments) {
            exit(MountHelper.run(agentArguments: arguments, mountpoint: CommandLine.arguments[2]))
        }
        await DSD.main()
    }
}
