import DSDClient
import DSDCore
import DSDTestSupport
import DSDWire
import Foundation
import Testing

extension Integration {
    /// Peers without the cluster key get nothing; garbage on the port closes that connection
    /// and nothing else.
    @Suite struct Authentication {
        @Test(.timeLimit(.minutes(2)))
        func agentWithTheWrongKeyNeverGetsData() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            #expect(cluster.waitConnected(["A"]) != nil, "A connects\n\(cluster.logs())")
            let a = try cluster.client("A")
            for i in 0..<10 { try a.put(table: testTable, entry: Entry(key: "IT.SECRET\(i)", value: "HOST\(i):1")) }

            let wrongKey = cluster.dir.file("wrong.key")
            try Cluster.keygen(into: wrongKey, in: cluster.dir)
            try cluster.startAgent("W", keyFile: wrongKey)
            // Several reconnect attempts' worth of time.
            usleep(3_000_000)
            let status = cluster.status("W")
            #expect(!status.isEmpty, "W answers status")
            #expect(status["state"] != "connected", "W never connects: \(status)")
            #expect(
                status["snapshots_received"] == "0" && status["changes_received"] == "0", "W got no data: \(status)")
            let ls = try cluster.command("W", ["ls", testTable])
            #expect(!ls.stdout.contains("IT.SECRET"), "dsd ls on W shows none of the table: \(ls)")
            let get = try cluster.command("W", ["get", testTable, "IT.SECRET1"])
            #expect(get.status != 0, "dsd get on W finds nothing: \(get)")
            let serverLog = cluster.server?.stderr ?? ""
            #expect(serverLog.contains("handshake failed"), "the server log mentions the failed handshake")
            let failures = serverLog.split(separator: "\n").filter { $0.contains("handshake failed") }
            print(
                "[integration] wrong-key agent: \(failures.count) failed handshakes logged, e.g. \(failures.first ?? "")"
            )
        }

        @Test(.timeLimit(.minutes(2)))
        func garbageClosesOnlyThatConnection() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            try cluster.startAgent("B")
            #expect(cluster.waitConnected(["A", "B"]) != nil, "agents connect\n\(cluster.logs())")

            var random = SystemRandomNumberGenerator()
            // Plain garbage.
            let garbage = try RawConnection(port: cluster.port)
            garbage.send((0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) })
            #expect(garbage.closedByPeer(within: .seconds(3)), "garbage gets the connection closed")
            // A frame of a message the directory never accepts before the handshake.
            let early = try RawConnection(port: cluster.port)
            #expect(try early.send(.sync(from: nil)))
            #expect(early.closedByPeer(within: .seconds(3)), "a replication request before the handshake closes")
            // A well-formed hello followed by a forged proof.
            let forged = try RawConnection(port: cluster.port)
            #expect(try forged.send(.hello(Hello(role: .agent, nonce: .random(), name: "forger"))))
            #expect(try forged.send(.authProof(mac: .random())))
            var sawError = false
            while let message = try forged.receive() {
                if case .error(let code, _) = message { sawError = code == .authFailed }
                if case .change = message { Issue.record("a forger received a change") }
                if case .snapshotBegin = message { Issue.record("a forger received a snapshot") }
            }
            #expect(sawError, "a forged proof is answered with authFailed and the connection closes")
            // Random frames with valid framing and unknown or out-of-place content.
            for _ in 0..<20 {
                let raw = try RawConnection(port: cluster.port)
                var bytes: [UInt8] = [
                    UInt8.random(in: 1...100, using: &random), UInt8.random(in: 0...255, using: &random),
                ]
                bytes += (0..<Int(bytes[0])).map { _ in UInt8.random(in: 0...255, using: &random) }
                raw.send(bytes)
                #expect(
                    raw.closedByPeer(within: .seconds(7)), "random frame \(bytes.prefix(8)) gets the connection closed")
            }

            #expect(cluster.server?.isRunning == true, "the directory survived")
            let start = ContinuousClock.now
            try cluster.client("A").put(table: testTable, entry: Entry(key: "IT.AFTER", value: "HOST1:1"))
            let seen = eventually(within: .seconds(2)) { cluster.entry("B", testTable, "IT.AFTER") != nil }
            #expect(seen != nil, "a put still propagates afterwards\n\(cluster.logs())")
            print("[integration] after garbage: put propagated in \(milliseconds(ContinuousClock.now - start)) ms")
            #expect(cluster.status("A")["state"] == "connected" && cluster.status("B")["state"] == "connected")
        }
    }
}
