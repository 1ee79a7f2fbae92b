import DSDClient
import DSDCore
import DSDTestSupport
import Foundation
import Testing

/// What the mount reports when things go wrong, and what `/dsd/status` counts, with a real
/// directory and agent on loopback.
@Suite(.serialized) final class MountErrorTests {
    let cluster: Cluster
    let table = StandardTable.gateway.name

    init() throws {
        cluster = try mountingCluster()
        try cluster.startAgent("A", mount: true)
        guard cluster.waitConnected(["A"]) != nil else { throw HarnessError("no connection:\n\(cluster.logs())") }
    }

    deinit { cluster.stopAll() }

    func path(_ relative: String) -> String { cluster.mountpoint("A") + "/" + relative }

    /// One write(2) of `text` to `file`; the errno it failed with, or 0.
    func writeErrno(_ file: String, _ text: String) -> Int32 {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let written = text.withCString { write(fd, $0, strlen($0)) }
        return written < 0 ? errno : 0
    }

    /// The README promises ETIMEDOUT for a write the directory does not commit in time, also
    /// when the agent gives the silent directory up first; EIO is for "nothing was written".
    @Test(.timeLimit(.minutes(1))) func writeToAStoppedDirectoryTimesOut() throws {
        let entry = path("tables/\(table)/GW.TIMEOUT")
        #expect(writeErrno(entry, "HOST1:1 1\n") == 0)
        guard let server = cluster.server else { return }
        server.signal(SIGSTOP)
        defer { server.signal(SIGCONT) }
        let start = ContinuousClock.now
        let code = writeErrno(entry, "HOST2:2 1\n")
        let elapsed = ContinuousClock.now - start
        #expect(code == ETIMEDOUT, "errno \(code) (\(String(cString: strerror(code)))) after \(elapsed)")
        #expect(elapsed < .seconds(15))
    }

    /// Open `events` files are watchers: `/dsd/status` and `dsd status` count them.
    @Test(.timeLimit(.minutes(1))) func statusCountsOpenEventStreams() throws {
        func watchers() -> (file: String?, socket: String?) {
            let text = readFile(path("status")) ?? ""
            let line = text.split(separator: "\n").first { $0.hasPrefix("watchers: ") }
            return (line.map { String($0.dropFirst("watchers: ".count)) }, cluster.status("A")["watchers"])
        }
        #expect(watchers().file == "0")
        let all = open(path("events/\(table)/.all"), O_RDONLY)
        let prefixed = open(path("events/\(table)/GW."), O_RDONLY)
        defer {
            close(all)
            close(prefixed)
        }
        #expect(all >= 0 && prefixed >= 0)
        let counted = eventually(within: .seconds(5), every: .milliseconds(20)) {
            let seen = watchers()
            return seen.file == "2" && seen.socket == "2"
        }
        #expect(counted != nil, "status: \(watchers())")
        #expect(readFile(path("status"))?.contains("last_error: none") == true, "\(readFile(path("status")) ?? "")")
    }
}
