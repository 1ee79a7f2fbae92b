import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Testing

extension Integration {
    /// One data directory, socket or replica cache belongs to one process: a second one is
    /// refused before it touches anything, with a message naming the holder's pid.
    @Suite struct ExclusiveUse {
        static func refused(_ cluster: Cluster, _ name: String, _ arguments: [String]) throws -> ChildProcess {
            let child = try ChildProcess(
                name: name, executable: cluster.dsd, arguments: arguments, logDirectory: cluster.dir.path)
            #expect(child.waitForExit(within: .seconds(10)), "\(name) exits instead of serving")
            return child
        }

        @Test(.timeLimit(.minutes(1)))
        func aSecondServerOnOneDataDirectoryIsRefused() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            let first = try cluster.startServer()
            try cluster.startAgent("A")
            #expect(cluster.waitConnected(["A"]) != nil)
            try cluster.client("A").put(table: testTable, entry: Entry(key: "IT.LOCKED", value: "HOST1:1"))
            let logBefore = try FileManager.default.contentsOfDirectory(atPath: cluster.dataDirectory).sorted()

            let second = try Self.refused(
                cluster, "server-2",
                [
                    "server", "--listen", "127.0.0.1:\(try freeLoopbackPort())", "--data", cluster.dataDirectory,
                    "--cluster-key", cluster.keyFile,
                ])
            #expect(second.exitStatus != 0)
            #expect(second.stderr.contains("in use by another dsd server"), "\(second.stderr)")
            #expect(second.stderr.contains("pid \(first.pid)"), "names the holder: \(second.stderr)")
            #expect(!second.stderr.contains("directory opened"), "refused before replay")
            #expect(try FileManager.default.contentsOfDirectory(atPath: cluster.dataDirectory).sorted() == logBefore)
            #expect(first.isRunning)
            try cluster.client("A").put(table: testTable, entry: Entry(key: "IT.STILL", value: "HOST1:1"))

            // The lock goes with the process, also on SIGKILL: a restart takes it.
            first.kill()
            _ = first.waitForExit(within: .seconds(5))
            try cluster.startServer()
        }

        @Test(.timeLimit(.minutes(1)))
        func aSecondAgentOnOneSocketOrCacheIsRefused() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            let first = try cluster.startAgent("A", withCache: true)
            #expect(cluster.waitConnected(["A"]) != nil)

            let sameSocket = try Self.refused(
                cluster, "agent-2",
                [
                    "agent", "--server", "127.0.0.1:\(cluster.port)", "--host", "A2", "--cluster-key",
                    cluster.keyFile, "--socket", cluster.socket("A"),
                ])
            #expect(sameSocket.exitStatus != 0)
            #expect(sameSocket.stderr.contains("socket \(cluster.socket("A")) is in use"), "\(sameSocket.stderr)")
            #expect(sameSocket.stderr.contains("pid \(first.pid)"), "\(sameSocket.stderr)")

            let sameCache = try Self.refused(
                cluster, "agent-3",
                [
                    "agent", "--server", "127.0.0.1:\(cluster.port)", "--host", "A3", "--cluster-key",
                    cluster.keyFile, "--socket", cluster.socket("A3"), "--cache", cluster.cache("A"),
                ])
            #expect(sameCache.exitStatus != 0)
            #expect(sameCache.stderr.contains("replica cache \(cluster.cache("A")) is in use"), "\(sameCache.stderr)")

            // The first agent still serves its clients on its socket.
            #expect(first.isRunning)
            #expect(cluster.status("A")["state"] == "connected", "A still answers on its socket")
        }
    }
}
