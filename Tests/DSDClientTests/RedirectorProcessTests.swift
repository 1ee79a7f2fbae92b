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
    let dsd: String

    init() throws {
        directory = NSTemporaryDirectory() + "dsd-client-test-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socket = directory + "/agent.sock"
        let products = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent()
        dsd = products.appendingPathComponent("dsd").path
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

    /// A server process's heartbeat: `dsd heartbeat` every 100 ms in a shell loop.
    func heartbeatLoop(table: String, key: String, timeMaxMillis: Int) throws -> Process {
        let loop = Process()
        loop.executableURL = URL(fileURLWithPath: "/bin/sh")
        loop.arguments = [
            "-c",
            "while :; do '\(dsd)' heartbeat \(table) \(key) --time-max-ms \(timeMaxMillis) --socket '\(socket)'; sleep 0.1; done",
        ]
        try loop.run()
        return loop
    }

    /// SIGKILLs a shell loop and the command it is running.
    func killTree(_ loop: Process) {
        guard loop.isRunning else { return }
        kill(loop.processIdentifier, SIGSTOP)
        let children = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for name in children {
            guard let pid = Int32(name),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == loop.processIdentifier { kill(pid, SIGKILL) }
        }
        kill(loop.processIdentifier, SIGKILL)
        loop.waitUntilExit()
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
    /// FIG. 4C: pending requests to MDS.1 on HOST9; the server process of MDS.1.1, which
    /// heartbeats with Time_Max 300 ms, is SIGKILLed; its entry turns invalid, MDS.1.0 on
    /// HOST11 is promoted, and every pending request is cancelled on the dead route and
    /// resubmitted to the new one exactly once — none lost, none sent twice to the dead route.
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
        let heartbeat = try up.heartbeatLoop(table: "DSD_MTID_METADATA", key: "MDS.1.1", timeMaxMillis: 300)
        defer { up.killTree(heartbeat) }
        Thread.sleep(forTimeInterval: 0.5)
        let oldRoute = try client.find("MDS.1")
        for id in 0..<20 { redirector.submit(id, to: "MDS.1") }
        redirector.completed(19)  // answered before the failure: must not move
        #expect(log.withLock { $0.count } == 20)

        up.killTree(heartbeat)
        let started = ContinuousClock.now
        var newRoute = oldRoute
        while ContinuousClock.now - started < .seconds(5) {
            newRoute = (try? client.find("MDS.1")) ?? oldRoute
            let moved = log.withLock { events in events.filter { $0.event == "send" && $0.route == newRoute }.count }
            if newRoute != oldRoute, moved >= 19 { break }
            Thread.sleep(forTimeInterval: 0.002)
        }
        let redirectTime = ContinuousClock.now - started
        print("redirect: server killed; 19 pending requests moved from \(oldRoute) to \(newRoute) in \(redirectTime)")
        #expect(newRoute != oldRoute)
        #expect(redirectTime < .milliseconds(400 + 300), "Time_Max 300 ms + detection")
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
