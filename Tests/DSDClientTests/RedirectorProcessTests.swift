import DSDCore
import Foundation
import Synchronization
import Testing

@testable import DSDClient

/// A `dsd up` process on loopback, seeded with the design document's tables.
final class UpProcess {
    let directory: String
    let socket: String
    let process: Process

    init() throws {
        directory = NSTemporaryDirectory() + "dsd-client-test-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socket = directory + "/agent.sock"
        let products = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent()
        let dsd = products.appendingPathComponent("dsd").path
        guard FileManager.default.isExecutableFile(atPath: dsd) else {
            throw TestFailure("dsd binary not found at \(dsd): build it first (make test does)")
        }
        let seed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("mount-examples/seed-tables.txt").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: dsd)
        process.arguments = [
            "up", "--listen", "127.0.0.1:0", "--data", directory + "/data", "--socket", socket, "--seed", seed,
            "--log-level", "warning",
        ]
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let client = try? AgentClient(socketPath: socket), (try? client.find("MDS.1")) != nil { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        stop()
        throw TestFailure("dsd up did not come up with the seed tables")
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

@Suite(.serialized) struct RedirectorProcessTests {
    /// FIG. 4C: pending requests to MDS.1 on HOST9; MDS.1.1 fails, MDS.1.0 on HOST11 is
    /// promoted; every pending request is cancelled on the dead route and resubmitted to the
    /// new one exactly once — none lost, none sent twice to the dead route.
    @Test(.timeLimit(.minutes(1))) func pendingRequestsFollowThePromotion() throws {
        let up = try UpProcess()
        defer { up.stop() }
        let log = Mutex<[(event: String, id: Int, route: String)]>([])
        let redirector = try RequestRedirector<Int>(
            socketPath: up.socket,
            send: { id, route in log.withLock { $0.append(("send", id, route)) } },
            cancel: { id, route in log.withLock { $0.append(("cancel", id, route)) } })
        defer { redirector.stop() }
        let client = try AgentClient(socketPath: up.socket)
        let oldRoute = try client.find("MDS.1")
        for id in 0..<20 { redirector.submit(id, to: "MDS.1") }
        redirector.completed(19)  // answered before the failure: must not move
        #expect(log.withLock { $0.count } == 20)

        let started = ContinuousClock.now
        try client.put(table: "DSD_MTID_METADATA", entry: Entry(key: "MDS.1.1", value: "HOST9:1872", valid: false))
        let newRoute = try client.find("MDS.1")
        #expect(newRoute != oldRoute)
        while ContinuousClock.now - started < .seconds(5) {
            if (0..<19).allSatisfy({ redirector.route(of: $0) == newRoute }) { break }
            Thread.sleep(forTimeInterval: 0.005)
        }
        let redirectTime = ContinuousClock.now - started
        print("redirect: 19 pending requests moved from \(oldRoute) to \(newRoute) in \(redirectTime)")
        let events = log.withLock { $0 }
        for id in 0..<19 {
            let mine = events.filter { $0.id == id }
            #expect(mine.map(\.event) == ["send", "cancel", "send"], "request \(id): \(mine)")
            #expect(mine.map(\.route) == [oldRoute, oldRoute, newRoute], "request \(id): \(mine)")
        }
        #expect(events.filter { $0.id == 19 }.map(\.event) == ["send"])
        #expect(events.filter { $0.event == "send" && $0.route == oldRoute }.count == 20)
    }
}
