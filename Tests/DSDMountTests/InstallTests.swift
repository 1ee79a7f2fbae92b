import DSDTestSupport
import Foundation
import Testing

/// `make install`'s copy step (`make install-bin DSD=path`, which installs an existing build:
/// the release build `make install` adds is too slow for CI), and an fstab mount through what
/// it installed.
@Suite(.serialized) struct InstallTests {
    func make(_ arguments: [String], in dir: TempDirectory) throws -> CommandOutcome {
        try run(try SystemTool.path("make"), ["-C", repositoryRoot, "--no-print-directory"] + arguments, in: dir)
    }

    /// DESTDIR staging with the default PREFIX: bin/dsd, the fuse.dsd mount helper in /sbin
    /// pointing at it, and `make uninstall` removing both.
    @Test(.timeLimit(.minutes(1))) func installsIntoDestdir() throws {
        let dir = try TempDirectory(prefix: "/tmp/dsd-install-")
        let dsd = try DSDBinary.path()
        let stage = dir.file("stage")
        let installed = try make(["install-bin", "DSD=\(dsd)", "DESTDIR=\(stage)"], in: dir)
        #expect(installed.status == 0, "\(installed)")
        let binary = stage + "/usr/local/bin/dsd"
        let attributes = try FileManager.default.attributesOfItem(atPath: binary)
        #expect((attributes[.posixPermissions] as? Int) == 0o755)
        #expect(
            FileManager.default.contentsEqual(atPath: binary, andPath: dsd), "\(binary) is not a copy of \(dsd)")
        let helper = stage + "/sbin/mount.fuse.dsd"
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: helper)) == "/usr/local/bin/dsd")

        let removed = try make(["uninstall", "DESTDIR=\(stage)"], in: dir)
        #expect(removed.status == 0, "\(removed)")
        #expect(!FileManager.default.fileExists(atPath: binary))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: helper)) == nil)

        // `make install` is the release build followed by the same copy of its result.
        let dryRun = try make(["-n", "install", "PREFIX=\(dir.file("p"))"], in: dir)
        #expect(dryRun.stdout.contains("build -c release"), "\(dryRun)")
        #expect(dryRun.stdout.contains("install-bin DSD=.build/release/dsd"), "\(dryRun)")

        let missing = try make(["install-bin", "DSD=\(dir.file("nothing"))", "PREFIX=\(dir.file("p"))"], in: dir)
        #expect(missing.status != 0 && missing.stderr.contains("is not built"), "\(missing)")
    }

    /// An fstab-style `mount -t fuse.dsd` finds the installed helper, even with a PREFIX outside
    /// mount's PATH. Run in a private mount namespace whose /sbin is the install's helper
    /// directory, so the machine's /sbin is not touched; the namespace, and its mount, end with
    /// the agent.
    @Test(.timeLimit(.minutes(1))) func fstabMountUsesTheInstalledHelper() throws {
        try requireRootAndFuse()
        let cluster = try Cluster()
        defer { cluster.stopAll() }
        try cluster.startServer()
        let dir = cluster.dir
        let prefix = dir.file("opt")
        let helpers = dir.file("sbin")
        let installed = try make(
            ["install-bin", "DSD=\(try DSDBinary.path())", "PREFIX=\(prefix)", "MOUNT_HELPER_DIR=\(helpers)"], in: dir)
        #expect(installed.status == 0, "\(installed)")
        let mountpoint = dir.file("fstab-mnt")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        let log = "/var/log/dsd-agent-\(mountpoint.split(separator: "/").joined(separator: "-")).log"
        defer {
            terminate(processIDs(commandLineContaining: "--mount \(mountpoint)"))
            try? FileManager.default.removeItem(atPath: log)
        }
        let options =
            "rw,_netdev,server=127.0.0.1:\(cluster.port),cluster_key=\(cluster.keyFile),socket=\(dir.file("f.sock"))"
        let script = """
            mount --bind \(helpers) /sbin || exit 9
            mount -t fuse.dsd -o \(options) HOSTF \(mountpoint) || exit 10
            for _ in $(seq 100); do grep -q 'state: connected' \(mountpoint)/status 2>/dev/null && exit 0; sleep 0.05; done
            cat \(mountpoint)/status; exit 11
            """
        let outcome = try Spawned.run(
            try SystemTool.path("unshare"), ["--mount", "--propagation", "private", "/bin/sh", "-c", script], in: dir,
            timeout: .seconds(20))
        #expect(outcome.status == 0, "\(outcome)\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        #expect(!processIDs(commandLineContaining: "--mount \(mountpoint)").isEmpty, "no agent was started")
    }
}
