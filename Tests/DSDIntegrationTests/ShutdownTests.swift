import DSDTestSupport
import Foundation
import Testing

extension Integration {
    @Suite struct Shutdown {
        /// A clean shutdown logs nothing at error level.
        @Test(.timeLimit(.minutes(1)))
        func cleanShutdownLogsNoError() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            let server = try cluster.startServer()
            let agent = try cluster.startAgent("A")
            #expect(cluster.waitConnected(["A"]) != nil)
            usleep(300_000)
            agent.stop()
            server.stop()
            #expect(server.waitForExit(within: .seconds(5)) && agent.waitForExit(within: .seconds(5)))
            for child in [server, agent] {
                let bad = child.stderr.split(separator: "\n").filter {
                    $0.contains(" error ") || $0.contains(" critical ")
                }
                #expect(bad.isEmpty, "\(child.name): \(bad)")
            }
        }
    }
}
