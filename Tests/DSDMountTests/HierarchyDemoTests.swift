import DSDTestSupport
import Foundation
import Testing

/// mount-examples/hierarchy-demo.sh: a directory, two nodes below it and an agent on each
/// layer, on loopback.
@Suite(.serialized) struct HierarchyDemoTests {
    /// A loopback port whose next two ports are free too (the script's nodes take them).
    static func threeFreePorts() throws -> Int {
        func bindable(_ port: Int) -> Bool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
        }
        for _ in 0..<50 {
            let port = try freeLoopbackPort()
            if port < 65_000, bindable(port + 1), bindable(port + 2) { return port }
        }
        throw HarnessError("no three consecutive free loopback ports")
    }

    @Test(.timeLimit(.minutes(1))) func aWriteAtTheBottomIsReadAtTheTopAndCtrlCStopsAll() throws {
        let dir = try TempDirectory(prefix: "/tmp/dsd-hierarchy-it-")
        let base = dir.file("demo")
        let port = try Self.threeFreePorts()
        let demo = try Spawned(
            "/usr/bin/env",
            [
                "DSD_DEMO_DIR=\(base)", "DSD_DEMO_PORT=\(port)", "/bin/bash", exampleScript("hierarchy-demo.sh"),
                try DSDBinary.path(),
            ],
            in: dir, name: "hierarchy")
        defer {
            demo.signal(SIGTERM)
            _ = demo.waitForExit(within: .seconds(10))
            terminate(processIDs(commandLineContaining: base))
        }
        let up = eventually(within: .seconds(30), every: .milliseconds(20)) {
            demo.stdout.contains("Press Ctrl-C to stop.") || !demo.isRunning
        }
        #expect(up != nil && demo.isRunning, "the demo starts: \(demo.stdout)\(demo.stderr)")

        let put = try runDSD(
            ["put", "--socket", "\(base)/HOST3.sock", "DSD_MTID_METADATA", "MDS.7", "HOST3:1872"], in: dir)
        #expect(put.status == 0, "\(put)")
        let read = eventually(within: .seconds(3)) {
            (try? runDSD(["get", "--socket", "\(base)/HOST1.sock", "DSD_MTID_METADATA", "MDS.7"], in: dir))?.stdout
                == "HOST3:1872 1\n"
        }
        #expect(read != nil, "the write on RACK2's agent is read on the directory's agent")
        var nodes = ""
        let listed = eventually(within: .seconds(5)) {
            nodes = (try? runDSD(["ls", "--socket", "\(base)/HOST1.sock", "DSD_NODES"], in: dir))?.stdout ?? ""
            return nodes.contains("RACK1 127.0.0.1:\(port + 1) 1") && nodes.contains("RACK2 127.0.0.1:\(port + 2) 1")
        }
        #expect(listed != nil, "both nodes are listed, valid: \(nodes)")

        demo.signal(SIGINT)
        #expect(demo.waitForExit(within: .seconds(15)), "Ctrl-C stops the demo")
        #expect(demo.stdout.contains("stopped; logs and data are in \(base)"))
        #expect(processIDs(commandLineContaining: base + "/").isEmpty, "nothing of the demo is left running")
    }
}
