import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Testing

extension Integration {
    /// An agent that stops reading (SIGSTOP) while thousands of changes flow: the directory's
    /// memory stays bounded, and the agent catches up once it runs again.
    @Suite struct SlowAgent {
        @Test(.timeLimit(.minutes(2)))
        func stoppedAgentCostsBoundedMemoryAndCatchesUp() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            let server = try cluster.startServer()
            try cluster.startAgent("A")
            let b = try cluster.startAgent("B")
            #expect(cluster.waitConnected(["A", "B"]) != nil, "agents connect\n\(cluster.logs())")
            let rssBefore = try #require(residentKiB(of: server.pid))

            b.signal(SIGSTOP)
            defer { b.signal(SIGCONT) }
            let ledger = WriteLedger()
            let socket = cluster.socket("A")
            let writers = 8
            let perWriter = 1_250
            let start = ContinuousClock.now
            let finished = onThreads(writers, limit: .seconds(90)) { worker in
                guard let client = try? AgentClient(socketPath: socket, timeout: .seconds(15)) else { return }
                // Long values, so the changes held for B would add up to many megabytes.
                let padding = String(repeating: "p", count: 200)
                for i in 0..<perWriter {
                    let key = "IT.S\(worker).\(i)"
                    do {
                        try client.put(table: testTable, entry: Entry(key: key, value: "\(padding)\(i)"))
                        ledger.record(key, .acknowledged)
                    } catch {
                        ledger.record(key, .failed("\(error)"))
                    }
                }
            }
            let writing = ContinuousClock.now - start
            let rssDuring = residentKiB(of: server.pid) ?? -1
            #expect(finished, "the writers finished")
            let acknowledged = ledger.acknowledgedCount
            print(
                "[integration] slow agent: \(acknowledged) of \(writers * perWriter) puts acknowledged in \(milliseconds(writing)) ms (\(Double(acknowledged) / (milliseconds(writing) / 1000)) puts/s) while B stopped; server RSS \(rssBefore) → \(rssDuring) KiB"
            )
            #expect(acknowledged == writers * perWriter, "every put committed while B was stopped")
            #expect(rssDuring > 0 && rssDuring < rssBefore + 64 * 1024, "RSS bounded: \(rssBefore) → \(rssDuring) KiB")

            // Keep B stopped past the directory's 10 s idle timeout: a silent agent is dropped
            // (and its pending changes with it) rather than buffered for.
            let stoppedFor = ContinuousClock.now - start
            if stoppedFor < .seconds(12) { usleep(UInt32(milliseconds(.seconds(12) - stoppedFor) * 1000)) }
            let dropped = eventually(within: .seconds(3), every: .milliseconds(50)) {
                server.stderr.contains("peer silent too long")
            }
            #expect(dropped != nil, "the directory dropped the stopped agent after its idle timeout")
            let rssStopped = residentKiB(of: server.pid) ?? -1
            #expect(
                rssStopped > 0 && rssStopped < rssBefore + 64 * 1024, "RSS bounded: \(rssBefore) → \(rssStopped) KiB")

            let target = try #require(Version(text: cluster.status("A")["version"] ?? ""))
            let resumed = ContinuousClock.now
            let stoppedTotal = resumed - start
            b.signal(SIGCONT)
            // B finds its connection gone and reconnects (with backoff), then resumes.
            let caughtUp = cluster.waitVersion("B", atLeast: target, within: .seconds(20))
            #expect(caughtUp != nil, "B catches up to \(target): \(cluster.status("B"))\n\(cluster.logs())")
            let status = cluster.status("B")
            print(
                "[integration] slow agent: B caught up to \(target) \(milliseconds(ContinuousClock.now - resumed)) ms after SIGCONT (stopped \(milliseconds(stoppedTotal)) ms; snapshots \(status["snapshots_received"] ?? "?"), changes \(status["changes_received"] ?? "?")); server RSS when dropped \(rssStopped) KiB, now \(residentKiB(of: server.pid) ?? -1) KiB"
            )
            #expect(status["version"] == cluster.status("A")["version"], "B's version equals A's")
            #expect(cluster.entry("B", testTable, "IT.S7.1249")?.value.hasSuffix("1249") == true)
        }
    }
}
