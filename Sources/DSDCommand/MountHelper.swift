import DSDPosix
import FoundationEssentials
import Glibc

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
        // A mount already there would pass the wait below at once while the new agent is
        // refused: a second fstab mount of the same point starts nothing.
        guard !isMounted(mountpoint) else {
            printError("dsd: \(mountpoint) is already mounted; unmount it first (umount -R \(mountpoint))")
            return 1
        }
        let pid: pid_t
        do {
            pid = try spawnDaemon(arguments: agentArguments, log: log)
        } catch {
            printError("dsd: cannot start the agent: \(error)")
            return 1
        }
        for _ in 0..<200 {
            if isMounted(mountpoint) { return 0 }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { break }
            usleep(50_000)
        }
        printError("dsd: the agent did not mount \(mountpoint); see \(log)")
        return 1
    }

    /// glibc's POSIX_SPAWN_SETSID (since 2.26), hidden from Swift behind _GNU_SOURCE.
    static let posixSpawnSetsid: Int16 = 0x80

    /// Starts this executable with `arguments` in a new session (it leaves mount(8)'s session
    /// and survives it), standard input from /dev/null, output appended to `log`.
    static func spawnDaemon(arguments: [String], log: String) throws(PosixError) -> pid_t {
        closeOnExec(from: 3)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_APPEND, 0o640)
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, posixSpawnSetsid)
        let argv = ["/proc/self/exe"] + arguments
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, &cArguments, environ)
        guard rc == 0 else { throw PosixError(operation: "posix_spawn", errno: rc) }
        return pid
    }

    /// Marks every open descriptor from `first` on close-on-exec, so the daemon holds none of
    /// mount(8)'s (a pipe it kept open would keep mount waiting for end of file).
    static func closeOnExec(from first: Int32) {
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        let own = dirfd(directory)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let fd = Int32(name), fd >= first, fd != own else { continue }
            _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
        }
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
        await DSD.parseAndRun()
    }
}
