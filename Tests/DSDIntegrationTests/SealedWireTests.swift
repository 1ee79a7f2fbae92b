import DSDClient
import DSDCore
import DSDTestSupport
import DSDWire
import Foundation
import NIOCore
import Testing

extension Integration {
    /// After the handshake every frame travels sealed: whoever is on the path reads no table
    /// data, and a record that is altered, replayed or reordered closes the connection with
    /// nothing of it applied.
    @Suite struct SealedWire {
        static func marker(_ label: String) -> String { "\(label)-\(UInt32.random(in: 1...UInt32.max))" }

        @Test(.timeLimit(.minutes(2)))
        func aRelayOnThePathSeesNoTableData() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            #expect(cluster.waitConnected(["A"]) != nil, "A connects\n\(cluster.logs())")
            let a = try cluster.client("A")
            // One entry reaches the relayed agent in its snapshot, one as a push, one is its own write.
            let snapshotted = Entry(key: Self.marker("IT.SNAPKEY"), value: Self.marker("SNAPVALUE") + ":1")
            try a.put(table: testTable, entry: snapshotted)

            let relay = try Relay(upstreamPort: cluster.port)
            defer { relay.stop() }
            try cluster.startAgent("RELAYEDHOST", server: "127.0.0.1:\(relay.port)")
            #expect(cluster.waitConnected(["RELAYEDHOST"]) != nil, "the relayed agent connects\n\(cluster.logs())")
            let pushed = Entry(key: Self.marker("IT.PUSHKEY"), value: Self.marker("PUSHVALUE") + ":1")
            try a.put(table: testTable, entry: pushed)
            let written = Entry(key: Self.marker("IT.OWNKEY"), value: Self.marker("OWNVALUE") + ":1")
            try cluster.client("RELAYEDHOST").put(table: testTable, entry: written)
            for entry in [snapshotted, pushed, written] {
                #expect(
                    eventually(within: .seconds(3)) { cluster.entry("RELAYEDHOST", testTable, entry.key) == entry }
                        != nil, "\(entry.key) reaches the relayed agent")
                #expect(eventually(within: .seconds(3)) { cluster.entry("A", testTable, entry.key) == entry } != nil)
            }

            let recorded = relay.bytes
            print("[integration] relay recorded \(recorded.count) bytes over \(relay.accepted) connection(s)")
            // The recording works: the handshake's hello names the host in the clear.
            #expect(recorded.contains(subsequence: Array("RELAYEDHOST".utf8)), "the relay recorded the handshake")
            for entry in [snapshotted, pushed, written] {
                #expect(!recorded.contains(subsequence: Array(entry.key.utf8)), "\(entry.key) never in the clear")
                #expect(!recorded.contains(subsequence: Array(entry.value.utf8)), "\(entry.value) never in the clear")
            }
        }

        @Test(.timeLimit(.minutes(2)))
        func aFlippedBitOnThePathDisconnectsAndAppliesNothing() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            let relay = try Relay(upstreamPort: cluster.port)
            defer { relay.stop() }
            try cluster.startAgent("B", server: "127.0.0.1:\(relay.port)")
            #expect(cluster.waitConnected(["A", "B"]) != nil, "both connect\n\(cluster.logs())")

            let tampered = Entry(key: Self.marker("IT.TAMPERED"), value: Self.marker("TAMPEREDVALUE") + ":1")
            relay.armFlip(minBytes: 40)
            let outcome = Result { try cluster.client("B").put(table: testTable, entry: tampered) }
            #expect(relay.flips == 1, "the relay altered the put's record")
            #expect(throws: (any Error).self, "the altered put is not acknowledged") { try outcome.get() }
            usleep(500_000)
            #expect(cluster.entry("A", testTable, tampered.key) == nil, "nothing of the altered record was applied")
            // B reconnects through the (now honest) relay and writes again.
            #expect(
                eventually(within: .seconds(5)) { relay.accepted >= 2 && cluster.status("B")["state"] == "connected" }
                    != nil, "B reconnects\n\(cluster.logs())")
            let after = Entry(key: Self.marker("IT.AFTERFLIP"), value: "HOST1:1")
            try cluster.client("B").put(table: testTable, entry: after)
            #expect(eventually(within: .seconds(3)) { cluster.entry("A", testTable, after.key) == after } != nil)
        }

        /// A put request for `key`, sealed as the next record of `raw`.
        static func sealedPut(_ raw: RawConnection, id: UInt64, key: String, value: String) throws -> [UInt8] {
            raw.seal(
                try raw.frame(
                    .request(id: id, .put(TableID(StandardTable.gateway.rawValue), Entry(key: key, value: value)))))
        }

        static func response(_ raw: RawConnection, id: UInt64) throws -> RequestResult? {
            while let message = try raw.receive() {
                if case .response(id, let result) = message { return result }
            }
            return nil
        }

        @Test(.timeLimit(.minutes(2)))
        func replayedOrReorderedRecordsDisconnectAndApplyNothing() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            try cluster.startAgent("A")
            #expect(cluster.waitConnected(["A"]) != nil)
            let key = try cluster.clusterKey()

            // Replay: two puts of one key, then the first one's record again.
            let replayed = Self.marker("IT.REPLAYED")
            let raw = try RawConnection(port: cluster.port)
            #expect(try raw.authenticate(key: key, name: "replayer"))
            let first = try Self.sealedPut(raw, id: 1, key: replayed, value: "HOST1:1")
            let second = try Self.sealedPut(raw, id: 2, key: replayed, value: "HOST2:2")
            #expect(raw.sendClear(first))
            #expect(try Self.response(raw, id: 1).map { if case .ok = $0 { true } else { false } } == true)
            #expect(raw.sendClear(second))
            #expect(try Self.response(raw, id: 2).map { if case .ok = $0 { true } else { false } } == true)
            raw.sendClear(first)
            #expect(raw.closedByPeer(within: .seconds(3)), "a replayed record closes the connection")
            #expect(
                eventually(within: .seconds(2)) { cluster.entry("A", testTable, replayed)?.value == "HOST2:2" } != nil)
            usleep(300_000)
            #expect(cluster.entry("A", testTable, replayed)?.value == "HOST2:2", "the replay was not applied")

            // Reorder: two puts sent second first.
            let (keyA, keyB) = (Self.marker("IT.REORDERED.A"), Self.marker("IT.REORDERED.B"))
            let reordering = try RawConnection(port: cluster.port)
            #expect(try reordering.authenticate(key: key, name: "reorderer"))
            let recordA = try Self.sealedPut(reordering, id: 1, key: keyA, value: "HOST1:1")
            let recordB = try Self.sealedPut(reordering, id: 2, key: keyB, value: "HOST1:1")
            reordering.sendClear(recordB + recordA)
            #expect(reordering.closedByPeer(within: .seconds(3)), "reordered records close the connection")

            // A bit flipped in a record's ciphertext.
            let flippedKey = Self.marker("IT.FLIPPED")
            let flipping = try RawConnection(port: cluster.port)
            #expect(try flipping.authenticate(key: key, name: "flipper"))
            var flipped = try Self.sealedPut(flipping, id: 1, key: flippedKey, value: "HOST1:1")
            flipped[flipped.count - 20] ^= 0x80
            flipping.sendClear(flipped)
            #expect(flipping.closedByPeer(within: .seconds(3)), "an altered record closes the connection")

            // Everything the directory applied so far is visible on A once a later write is.
            let marker = Entry(key: Self.marker("IT.MARKER"), value: "HOST1:1")
            try cluster.client("A").put(table: testTable, entry: marker)
            #expect(eventually(within: .seconds(3)) { cluster.entry("A", testTable, marker.key) == marker } != nil)
            for absent in [keyA, keyB, flippedKey] {
                #expect(cluster.entry("A", testTable, absent) == nil, "\(absent) was not applied")
            }
            #expect(cluster.server?.isRunning == true)
        }
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return false }
        return (0...(count - needle.count)).contains { start in
            self[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}
