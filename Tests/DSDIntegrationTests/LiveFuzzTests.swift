import DSDClient
import DSDCore
import DSDTestSupport
import DSDWire
import Foundation
import Testing

extension Integration {
    /// Hostile bytes against a live directory: it stays up, its memory stays put, and its
    /// agents keep getting changes.
    @Suite struct LiveFuzz {
        static let seed: UInt64 = 0xD5D_F022

        /// A put through A reaches B.
        /// A directory with agents A and B connected.
        static func serverWithTwoAgents() throws -> (Cluster, ChildProcess) {
            let cluster = try Cluster()
            do {
                let server = try cluster.startServer()
                try cluster.startAgent("A")
                try cluster.startAgent("B")
                #expect(cluster.waitConnected(["A", "B"]) != nil, "agents connect\n\(cluster.logs())")
                return (cluster, server)
            } catch {
                cluster.stopAll()
                throw error
            }
        }

        static func propagates(_ cluster: Cluster, key: String) throws -> Duration? {
            try cluster.client("A").put(table: testTable, entry: Entry(key: key, value: "HOST7:77"))
            return eventually(within: .seconds(2)) { cluster.entry("B", testTable, key) != nil }
        }

        @Test(.timeLimit(.minutes(2)))
        func hundredThousandMutatedFramesLeaveTheDirectoryServing() throws {
            let (cluster, server) = try Self.serverWithTwoAgents()
            defer { cluster.stopAll() }
            #expect(try Self.propagates(cluster, key: "IT.BEFORE") != nil)
            let key = try cluster.clusterKey()
            let rssBefore = try #require(residentKiB(of: server.pid))

            var fuzzer = FrameFuzzer(seed: Self.seed)
            var framesWritten = 0
            var connections = 0
            var authenticated = 0
            var acceptedWritten = 0
            let start = ContinuousClock.now
            while framesWritten < 100_000 {
                #expect(server.isRunning, "the directory is alive after \(framesWritten) frames")
                guard server.isRunning else { break }
                let raw = try RawConnection(port: cluster.port)
                connections += 1
                var batch: [[UInt8]] = []
                if connections % 2 == 0 {
                    // Authenticate with the real key, then valid session traffic, then junk.
                    guard try raw.authenticate(key: key, name: "fuzz\(connections)") else {
                        Issue.record("handshake with the right key failed")
                        continue
                    }
                    authenticated += 1
                    let valid = fuzzer.int(0...40)
                    for _ in 0..<valid { batch.append(fuzzer.encode(fuzzer.acceptedMessage())) }
                    acceptedWritten += valid
                    for _ in 0..<fuzzer.int(100...300) { batch.append(fuzzer.mutatedFrame()) }
                } else {
                    // Unauthenticated: sometimes a valid hello first, then mutated frames.
                    if fuzzer.int(0...1) == 0 {
                        batch.append(fuzzer.encode(.hello(Hello(role: .agent, nonce: .random(), name: "fz"))))
                    }
                    for _ in 0..<fuzzer.int(50...250) { batch.append(fuzzer.mutatedFrame()) }
                }
                // In chunks, so frames after a close are not counted as sent.
                for chunk in stride(from: 0, to: batch.count, by: 16) {
                    let frames = batch[chunk..<min(chunk + 16, batch.count)]
                    guard raw.send(frames.flatMap { $0 }) else { break }
                    framesWritten += frames.count
                }
                raw.shut()
            }
            let fuzzing = ContinuousClock.now - start
            let rssAfter = residentKiB(of: server.pid) ?? -1
            print(
                "[integration] live fuzz: \(framesWritten) frames (\(acceptedWritten) valid session frames) over \(connections) connections (\(authenticated) authenticated) in \(milliseconds(fuzzing)) ms; server RSS \(rssBefore) KiB → \(rssAfter) KiB"
            )
            #expect(server.isRunning, "the directory survived the fuzz\n\(cluster.logs())")
            #expect(rssAfter > 0 && rssAfter < rssBefore + 64 * 1024, "RSS bounded: \(rssBefore) → \(rssAfter) KiB")
            #expect(cluster.waitConnected(["A", "B"], within: .seconds(10)) != nil, "agents still connected")
            let took = try Self.propagates(cluster, key: "IT.AFTERFUZZ")
            #expect(took != nil, "a put still propagates after the fuzz\n\(cluster.logs())")
            print("[integration] after fuzz: put propagated in \(took.map(milliseconds) ?? -1) ms")
        }

        @Test(.timeLimit(.minutes(2)))
        func connectionChurnAndHalfOpenConnectionsAreReclaimed() throws {
            let (cluster, server) = try Self.serverWithTwoAgents()
            defer { cluster.stopAll() }
            let fdBaseline = try #require(openDescriptors(of: server.pid))
            let rssBefore = try #require(residentKiB(of: server.pid))

            let start = ContinuousClock.now
            for _ in 0..<2_000 {
                let raw = try RawConnection(port: cluster.port)
                raw.shut()
            }
            let churn = ContinuousClock.now - start
            let halfOpen = try (0..<8).map { _ in try RawConnection(port: cluster.port, timeout: .seconds(10)) }
            let fdPeak = openDescriptors(of: server.pid) ?? -1
            // The handshake timeout is 5 s: every silent connection is closed by then.
            for (index, connection) in halfOpen.enumerated() {
                #expect(connection.closedByPeer(within: .seconds(9)), "half-open connection \(index) was closed")
            }
            let reclaimed = eventually(within: .seconds(5), every: .milliseconds(50)) {
                (openDescriptors(of: server.pid) ?? .max) <= fdBaseline + 2
            }
            let fdAfter = openDescriptors(of: server.pid) ?? -1
            let rssAfter = residentKiB(of: server.pid) ?? -1
            print(
                "[integration] 2000 connects/closes in \(milliseconds(churn)) ms; server fds \(fdBaseline) → \(fdPeak) (8 half-open) → \(fdAfter); RSS \(rssBefore) → \(rssAfter) KiB"
            )
            #expect(reclaimed != nil, "descriptors back near the baseline \(fdBaseline), now \(fdAfter)")
            #expect(rssAfter > 0 && rssAfter < rssBefore + 64 * 1024, "RSS bounded: \(rssBefore) → \(rssAfter) KiB")
            #expect(server.isRunning)
            #expect(cluster.waitConnected(["A", "B"], within: .seconds(5)) != nil, "agents still connected")
            #expect(try Self.propagates(cluster, key: "IT.AFTERCHURN") != nil, "a put still propagates")
        }
    }
}
