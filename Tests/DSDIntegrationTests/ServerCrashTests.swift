import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Synchronization
import Testing

/// What concurrent writers saw, shared between their threads.
final class WriteLedger: Sendable {
    enum Outcome: Sendable, Equatable {
        case acknowledged
        case failed(String)
        /// The client's own deadline passed with no answer from the agent.
        case silent
    }

    private let state = Mutex<[String: Outcome]>([:])

    func record(_ key: String, _ outcome: Outcome) { state.withLock { $0[key] = outcome } }
    var outcomes: [String: Outcome] { state.withLock { $0 } }
    var acknowledgedCount: Int { state.withLock { $0.values.count { $0 == .acknowledged } } }
    var count: Int { state.withLock { $0.count } }
}

/// A flag one thread sets and others poll.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// Runs `body(worker)` on `workers` threads and waits for all of them (up to `limit`).
func onThreads(_ workers: Int, limit: Duration, _ body: @escaping @Sendable (Int) -> Void) -> Bool {
    let group = DispatchGroup()
    for worker in 0..<workers {
        group.enter()
        let thread = Thread {
            body(worker)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    let seconds = Double(limit.components.seconds)
    return group.wait(timeout: .now() + seconds) == .success
}

extension Integration {
    /// The directory SIGKILLed in the middle of a burst of writes: every acknowledged write
    /// survives on every agent, and every other writer got an error rather than silence.
    @Suite struct ServerCrash {
        @Test(.timeLimit(.minutes(2)))
        func acknowledgedWritesSurviveADirectoryCrash() throws {
            let cluster = try Cluster()
            defer { cluster.stopAll() }
            try cluster.startServer()
            for host in ["A", "B", "C"] { try cluster.startAgent(host) }
            #expect(cluster.waitConnected(["A", "B", "C"]) != nil, "agents connect\n\(cluster.logs())")

            let ledger = WriteLedger()
            let socket = cluster.socket("A")
            let writers = 8
            let perWriter = 125
            let killAfter = 300
            let started = ContinuousClock.now
            let done = Flag()
            // Kill the directory from a watcher thread once enough writes were acknowledged.
            let serverPID = try #require(cluster.server?.pid)
            let killer = Thread {
                while !done.isSet {
                    if ledger.acknowledgedCount >= killAfter {
                        kill(serverPID, SIGKILL)
                        return
                    }
                    usleep(200)
                }
            }
            killer.start()
            let finished = onThreads(writers, limit: .seconds(60)) { worker in
                // The client's deadline is well beyond the agent's own 5 s request timeout, so a
                // client that hits it was left without an answer.
                var client = try? AgentClient(socketPath: socket, timeout: .seconds(15))
                for i in 0..<perWriter {
                    let key = "IT.W\(worker).\(i)"
                    do {
                        if client == nil { client = try AgentClient(socketPath: socket, timeout: .seconds(15)) }
                        try client!.put(table: testTable, entry: Entry(key: key, value: "V\(worker)x\(i)"))
                        ledger.record(key, .acknowledged)
                    } catch ClientError.timedOut {
                        ledger.record(key, .silent)
                        client = nil
                    } catch {
                        ledger.record(key, .failed("\(error)"))
                    }
                }
            }
            done.set()
            let writing = ContinuousClock.now - started
            #expect(finished, "every writer finished")
            #expect(cluster.server?.waitForExit(within: .seconds(2)) == true, "the directory was killed mid-burst")

            let outcomes = ledger.outcomes
            let acknowledged = outcomes.filter { $0.value == .acknowledged }.map(\.key)
            let silent = outcomes.filter { $0.value == .silent }.map(\.key)
            let failed = outcomes.count - acknowledged.count - silent.count
            print(
                "[integration] 1000 puts with a directory SIGKILL after \(killAfter) acks: \(acknowledged.count) acknowledged, \(failed) failed, \(silent.count) silent, \(milliseconds(writing)) ms"
            )
            #expect(outcomes.count == writers * perWriter, "every put returned")
            #expect(silent.isEmpty, "no put was left without an answer: \(silent.prefix(5))")
            #expect(failed > 0, "puts after the crash failed")
            #expect(acknowledged.count >= killAfter)
            if let sample = outcomes.values.first(where: { if case .failed = $0 { true } else { false } }) {
                print("[integration] a failed put said: \(sample)")
            }

            // Restart on the same port and data; agents come back by themselves.
            let restart = ContinuousClock.now
            try cluster.startServer()
            let reconnected = cluster.waitConnected(["A", "B", "C"], within: .seconds(20))
            #expect(reconnected != nil, "agents reconnect\n\(cluster.logs())")
            print("[integration] agents reconnected \(milliseconds(ContinuousClock.now - restart)) ms after restart")
            let target = try #require(Version(text: cluster.status("A")["version"] ?? ""))
            for host in ["A", "B", "C"] {
                #expect(cluster.waitVersion(host, atLeast: target, within: .seconds(10)) != nil, "\(host) caught up")
                let entries = try cluster.client(host).list(table: testTable, prefix: "IT.W")
                let present = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                let missing = acknowledged.filter { key in
                    let parts = key.dropFirst(4).split(separator: ".")
                    return present[key] != "V\(parts[0])x\(parts[1])"
                }
                #expect(
                    missing.isEmpty,
                    "every acknowledged put is on \(host); missing \(missing.count): \(missing.prefix(5))")
            }
        }
    }
}
