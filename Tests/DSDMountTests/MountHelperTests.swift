import DSDTestSupport
import Foundation
import Testing

/// `dsd HOST MOUNTPOINT -o OPTIONS`, the form mount.fuse3 uses for an fstab line: the daemon
/// is started detached, the command returns once the mount is up.
@Suite(.serialized) struct MountHelperTests {
    @Test(.timeLimit(.minutes(1))) func fstabFormMountsAndReturns() throws {
        guard access("/dev/fuse", R_OK | W_OK) == 0, getuid() == 0 else {
            throw HarnessError("the mount tests need root and /dev/fuse (CI has both)")
        }
        let cluster = try Cluster()
        defer { cluster.stopAll() }
        try cluster.startServer()
        try cluster.startAgent("A")
        guard cluster.waitConnected(["A"]) != nil else { throw HarnessError("agent A did not connect") }
        try cluster.client("A").put(table: "DSD_MTID_GATEWAY", entry: .init(key: "GW.1", value: "HOST2:1700"))
        let mountpoint = cluster.dir.file("fstab-mnt")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        let socket = cluster.dir.file("fstab.sock")
        defer {
            // The daemon is detached from the test: stop it by its unique mountpoint.
            _ = try? shell("pkill -TERM -f -- '--mount \(mountpoint)'", in: cluster.dir)
            _ = eventually(within: .seconds(5)) { !Self.mounted(mountpoint) }
            Cluster.detach(mountpoint + "/events")
            Cluster.detach(mountpoint)
        }
        let fstabLine = [
            "HOSTF", mountpoint, "-o",
            "rw,_netdev,server=127.0.0.1:\(cluster.port),cluster_key=\(cluster.keyFile),socket=\(socket)",
        ]
        let outcome = try runDSD(fstabLine, in: cluster.dir, timeout: .seconds(20))
        #expect(outcome.status == 0, "\(outcome)")
        #expect(Self.mounted(mountpoint))

        // A second mount of the same line starts no duplicate agent.
        let again = try runDSD(fstabLine, in: cluster.dir, timeout: .seconds(20))
        #expect(again.status != 0, "\(again)")
        #expect(again.stderr.contains("already mounted"), "\(again.stderr)")
        // `[-]` keeps the pattern from matching this shell's own command line.
        let agents = try shell("pgrep -c -f -- '[-]-mount \(mountpoint)'", in: cluster.dir)
        #expect(agents.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "one agent: \(agents)")
        let entry = mountpoint + "/tables/DSD_MTID_GATEWAY/GW.1"
        let seen = eventually(within: .seconds(5)) {
            (try? String(contentsOfFile: entry, encoding: .utf8)) == "HOST2:1700 1\n"
        }
        #expect(seen != nil)
    }

    static func mounted(_ path: String) -> Bool {
        ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "").split(separator: "\n")
            .contains { $0.split(separator: " ").dropFirst().first.map(String.init) == path }
    }
}
