import DSDClient
import DSDTestSupport
import Foundation
import Testing

/// An agent lives exactly as long as its mount: `umount` stops it cleanly, and a second agent
/// for a mounted mountpoint is refused instead of stacking a duplicate.
@Suite(.serialized) struct MountLifetimeTests {
    let cluster: Cluster

    init() throws {
        cluster = try mountingCluster()
    }

    @Test(.timeLimit(.minutes(1))) func unmountingStopsTheAgentCleanly() throws {
        defer { cluster.stopAll() }
        let agent = try cluster.startAgent("A", mount: true)
        #expect(cluster.waitConnected(["A"]) != nil)
        let mountpoint = cluster.mountpoint("A")
        #expect(MountHelperTests.mounted(mountpoint))

        let umount = try shell("umount -R \(mountpoint)", in: cluster.dir)
        #expect(umount.status == 0, "\(umount)")
        #expect(agent.waitForExit(within: .seconds(10)), "the agent exits once its mount is gone")
        #expect(agent.exitStatus == 0, "a clean unmount is a clean exit: \(agent.stderr)")
        #expect(agent.stderr.contains("the mount went away"), "the log says why: \(agent.stderr)")
        #expect(!MountHelperTests.mounted(mountpoint) && !MountHelperTests.mounted(mountpoint + "/events"))
        #expect(!FileManager.default.fileExists(atPath: cluster.socket("A")), "its socket is removed")
    }

    @Test(.timeLimit(.minutes(1))) func aSecondAgentForAMountedMountpointIsRefused() throws {
        defer { cluster.stopAll() }
        let first = try cluster.startAgent("A", mount: true)
        #expect(cluster.waitConnected(["A"]) != nil)
        let mountpoint = cluster.mountpoint("A")
        let second = try ChildProcess(
            name: "agent-dup", executable: cluster.dsd,
            arguments: [
                "agent", "--server", "127.0.0.1:\(cluster.port)", "--host", "DUP", "--cluster-key", cluster.keyFile,
                "--socket", cluster.dir.file("dup.sock"), "--mount", mountpoint,
            ], logDirectory: cluster.dir.path)
        #expect(second.waitForExit(within: .seconds(10)), "the duplicate exits")
        #expect(second.exitStatus != 0)
        #expect(second.stderr.contains("already mounted"), "\(second.stderr)")
        #expect(first.isRunning)
        let mounts = ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "")
            .split(separator: "\n").filter { $0.split(separator: " ").dropFirst().first.map(String.init) == mountpoint }
        #expect(mounts.count == 1, "one mount at \(mountpoint): \(mounts)")
        #expect(FileManager.default.fileExists(atPath: mountpoint + "/status"))
    }
}
