import DSDAgent
import DSDCore
import DSDEtcd
import Foundation
import Logging

/// The directory on etcd (`dsd server --etcd`): what a write costs next to etcd's own put and
/// next to the write-ahead log, and how long a master SIGKILL interrupts writes and the
/// master's duties.
///
/// A 3-member etcd cluster (the Debian `etcd` binary) runs on loopback with its data on
/// tmpfs, as does the log of the WAL directory it is compared with, so both pay no disk
/// sync and the numbers compare the software. Baseline: sequential puts by this process
/// through etcd's JSON gateway, one connection per call, the way `dsd server` sends them.
/// Then two `dsd server --etcd` processes (lease TTL 2 s) and two in-process agents, one on
/// each: sequential puts through an agent, acknowledged once etcd committed them and the
/// server's watch brought them back. Failover, `kills` times: SIGKILL the master; measure
/// until a put through an agent that was attached to it succeeds (writes), and until a primary
/// made invalid right after the kill is replaced by its backup on an agent (master duties:
/// the survivor must first be elected); then restart the killed server.
struct RedundancyBench {
    struct Result {
        var etcdPut: LatencySummary
        var etcdTxn: LatencySummary
        var etcdPutWatched: LatencySummary
        var onEtcd: LatencySummary
        var onLog: LatencySummary
        var writeFailover: LatencySummary?
        var dutyFailover: LatencySummary?
        var kills: Int
    }

    let dsd: String
    let scratch: Scratch
    let children: ChildProcesses
    let puts: Int
    let kills: Int
    static let leaseTTL = 2
    static let table = StandardTable.metadata.name

    func run() throws -> Result {
        guard
            let etcdBinary = ["/usr/bin/etcd", "/usr/local/bin/etcd"].first(where: FileManager.default.isExecutableFile)
        else { throw BenchError("etcd is not installed (apt-get install etcd-server)") }
        let cluster = try Cluster(dsd: dsd, scratch: scratch, children: children, name: "redundancy")
        defer { cluster.stop() }
        let tmpfs = try Scratch(parent: "/dev/shm")
        defer { tmpfs.remove() }
        let members = try startEtcd(etcdBinary, data: tmpfs, logs: cluster.scratch)
        let urls = members.map { "http://127.0.0.1:\($0)" }
        let client = EtcdClient(endpoints: urls.compactMap(EtcdEndpoint.init(url:)))

        // Baseline: etcd's own put.
        var baseline: [UInt64] = []
        var baselineFailures: [String] = []
        for index in 0..<(puts + 100) {
            let started = monotonicNanoseconds()
            do {
                _ = try blocking {
                    try await client.put(Array("/bench/put/\(index % 64)".utf8), Array("HOST9:1872".utf8))
                }
            } catch {
                baselineFailures.append("put \(index): \(error)")
                continue
            }
            if index >= 100 { baseline.append(monotonicNanoseconds() - started) }
        }
        for failure in baselineFailures.prefix(3) { Swift.print("  etcd put failed: \(failure)") }
        // The transaction dsd sends for a put: the table compare, the entry, the sequence key.
        var transactions: [UInt64] = []
        for index in 0..<(puts + 100) {
            let sequence = Array("/bench/seq".utf8)
            let compares: [Compare] = [
                index == 0 ? .absent(sequence) : Compare(key: sequence, .value(Array(String(index).utf8)), .equal)
            ]
            let started = monotonicNanoseconds()
            _ = try blocking {
                try await client.txn(
                    compares,
                    success: [
                        .put(key: Array("/bench/txn/\(index % 64)".utf8), value: Array("1HOST9:1872".utf8)),
                        .put(key: sequence, value: Array(String(index + 1).utf8)),
                    ], failure: [.range(RangeRequest(.key(sequence)))], resendUnanswered: true)
            }
            if index >= 100 { transactions.append(monotonicNanoseconds() - started) }
        }

        // Two servers on etcd, an in-process agent on each.
        let ports = [try freeLoopbackPort(), try freeLoopbackPort()]
        var servers: [ChildProcess?] = [nil, nil]
        func start(_ index: Int) throws {
            let child = try children.spawn(
                name: "dsd server S\(index)", executable: dsd,
                arguments: [
                    "server", "--listen", "127.0.0.1:\(ports[index])", "--etcd", urls.joined(separator: ","),
                    "--etcd-prefix", "/bench-dsd/", "--etcd-lease-ttl", "\(Self.leaseTTL)", "--cluster-key",
                    cluster.keyPath, "--name", "S\(index)", "--log-level", "notice",
                ],
                logPath: cluster.scratch.file("S\(index)-\(UInt32.random(in: 0...UInt32.max)).log"))
            try waitForListener(port: ports[index], timeout: .seconds(15), child: child)
            servers[index] = child
        }
        try start(0)
        try start(1)
        let agents = try [0, 1].map { first in
            try cluster.startAgent(
                host: "HA\(first)",
                servers: [ports[first], ports[1 - first]].map { .init(host: "127.0.0.1", port: $0) })
        }
        // The baseline again, now that two servers watch the prefix (etcd sends them every
        // event, they decode it) and their agents are connected: the same machine's load.
        var loaded: [UInt64] = []
        for index in 0..<(puts + 100) {
            let started = monotonicNanoseconds()
            _ = try blocking { try await client.put(Array("/bench/put/\(index % 64)".utf8), Array("HOST9:1872".utf8)) }
            if index >= 100 { loaded.append(monotonicNanoseconds() - started) }
        }
        var onEtcd: [UInt64] = []
        for index in 0..<(puts + 100) {
            let entry = Entry(key: "MDS.\(index % 64).1", value: "HOST9:\(1000 + index)")
            let started = monotonicNanoseconds()
            _ = try agents[0].put(table: Self.table, entry: entry)
            if index >= 100 { onEtcd.append(monotonicNanoseconds() - started) }
        }

        // Failover.
        var writes: [UInt64] = []
        var duties: [UInt64] = []
        for round in 0..<kills {
            let service = "SVC.\(round)"
            _ = try agents[0].put(table: Self.table, entry: Entry(key: "\(service).1", value: "HOSTA:\(round)"))
            _ = try agents[0].put(table: Self.table, entry: Entry(key: "\(service).2", value: "HOSTB:\(round)"))
            _ = try agents[0].put(table: Self.table, entry: Entry(key: service, value: "HOSTA:\(round)"))
            guard let master = try waitForMaster(servers) else { throw BenchError("no master in round \(round)") }
            let masterAddress = "127.0.0.1:\(ports[master])"
            let attached = agents.filter { directory(of: $0) == masterAddress }
            let survivor = agents.first { directory(of: $0) != masterAddress } ?? agents[0]
            let killed = monotonicNanoseconds()
            servers[master]?.killNow()
            servers[master] = nil
            // The primary fails right after the kill: only a master promotes its backup.
            _ = retry(until: killed + 10_000_000_000) {
                _ = try survivor.put(
                    table: Self.table, entry: Entry(key: "\(service).1", value: "HOSTA:\(round)", valid: false))
            }
            if let agent = attached.first {
                if let done = retry(
                    until: killed + 10_000_000_000,
                    {
                        _ = try agent.put(table: Self.table, entry: Entry(key: "AFTER.\(round)", value: "HOST9:1"))
                    })
                {
                    writes.append(done - killed)
                }
            }
            let promoted = waitUntil(killed + 15_000_000_000) {
                survivor.replica.read { $0.entry(table: Self.table, key: service)?.value } == "HOSTB:\(round)"
            }
            if let promoted { duties.append(promoted - killed) }
            try start(master)
        }
        for agent in agents { _ = try? blocking { try await agent.shutdown() } }
        for server in servers { if let server { children.stop(server) } }

        // The same puts on the write-ahead log (on tmpfs).
        let logCluster = try Cluster(
            dsd: dsd, scratch: scratch, children: children, name: "redundancy-log", logOnTmpfs: true)
        defer { logCluster.stop() }
        try logCluster.startServer()
        let logAgent = try logCluster.startAgent(host: "LOG")
        var onLog: [UInt64] = []
        for index in 0..<(puts + 100) {
            let entry = Entry(key: "MDS.\(index % 64).1", value: "HOST9:\(1000 + index)")
            let started = monotonicNanoseconds()
            _ = try logAgent.put(table: Self.table, entry: entry)
            if index >= 100 { onLog.append(monotonicNanoseconds() - started) }
        }
        guard let etcdPut = LatencySummary(nanoseconds: baseline),
            let etcdTxn = LatencySummary(nanoseconds: transactions),
            let etcdPutWatched = LatencySummary(nanoseconds: loaded),
            let onEtcdSummary = LatencySummary(nanoseconds: onEtcd),
            let onLogSummary = LatencySummary(nanoseconds: onLog)
        else { throw BenchError("no samples") }
        return Result(
            etcdPut: etcdPut, etcdTxn: etcdTxn, etcdPutWatched: etcdPutWatched, onEtcd: onEtcdSummary,
            onLog: onLogSummary,
            writeFailover: LatencySummary(nanoseconds: writes),
            dutyFailover: LatencySummary(nanoseconds: duties), kills: kills)
    }

    private func directory(of agent: Agent) -> String? {
        agent.status().first { $0.name == "directory" }?.value
    }

    /// The server whose log last says "became master" (and not "no longer master" since).
    private func waitForMaster(_ servers: [ChildProcess?]) throws -> Int? {
        let deadline = monotonicNanoseconds() + 10_000_000_000
        while monotonicNanoseconds() < deadline {
            for (index, server) in servers.enumerated() {
                guard let server, let log = try? String(contentsOfFile: server.logPath, encoding: .utf8),
                    let became = log.range(of: "became master", options: .backwards)
                else { continue }
                if !log[became.upperBound...].contains("no longer master") { return index }
            }
            usleep(10_000)
        }
        return nil
    }

    /// Calls `body` until it does not throw; returns the instant it succeeded.
    private func retry(until deadline: UInt64, _ body: () throws -> Void) -> UInt64? {
        while monotonicNanoseconds() < deadline {
            if (try? body()) != nil { return monotonicNanoseconds() }
            usleep(2_000)
        }
        return nil
    }

    private func waitUntil(_ deadline: UInt64, _ condition: () -> Bool) -> UInt64? {
        while monotonicNanoseconds() < deadline {
            if condition() { return monotonicNanoseconds() }
            usleep(2_000)
        }
        return nil
    }

    /// Three etcd members on loopback; returns their client ports once all serve.
    private func startEtcd(_ binary: String, data: Scratch, logs: Scratch) throws -> [Int] {
        let clientPorts = try (0..<3).map { _ in try freeLoopbackPort() }
        let peerPorts = try (0..<3).map { _ in try freeLoopbackPort() }
        let initial = (0..<3).map { "m\($0)=http://127.0.0.1:\(peerPorts[$0])" }.joined(separator: ",")
        let token = "bench-\(UInt32.random(in: 0...UInt32.max))"
        var members: [ChildProcess] = []
        for index in 0..<3 {
            let client = "http://127.0.0.1:\(clientPorts[index])"
            let peer = "http://127.0.0.1:\(peerPorts[index])"
            members.append(
                try children.spawn(
                    name: "etcd m\(index)", executable: binary,
                    arguments: [
                        "--name", "m\(index)", "--data-dir", data.file("m\(index)"), "--listen-client-urls", client,
                        "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls",
                        peer, "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token",
                        token, "--max-txn-ops", "1000",
                    ],
                    logPath: logs.file("etcd-m\(index).log")))
        }
        let deadline = monotonicNanoseconds() + 20_000_000_000
        for member in members {
            while !((try? String(contentsOfFile: member.logPath, encoding: .utf8))?.contains(
                "ready to serve client requests") ?? false)
            {
                guard member.isRunning, monotonicNanoseconds() < deadline else {
                    throw BenchError("\(member.name) did not become ready:\n\(member.logTail())")
                }
                usleep(20_000)
            }
        }
        return clientPorts
    }

    static func print(_ result: Result) {
        heading("Directory on etcd: writes and failover (3 etcd members on tmpfs, 2 dsd servers, lease TTL 2 s)")
        var table = TextTable("write", "p50", "p99", "max", "target")
        let p50Target = result.etcdPut.p50 + 500_000
        table.add(
            "etcd's own put (baseline)", Format.millis(result.etcdPut.p50), Format.millis(result.etcdPut.p99),
            Format.millis(result.etcdPut.max), "")
        table.add(
            "etcd's own txn, as dsd sends a put", Format.millis(result.etcdTxn.p50), Format.millis(result.etcdTxn.p99),
            Format.millis(result.etcdTxn.max), "")
        table.add(
            "etcd's own put, 2 dsd servers watching", Format.millis(result.etcdPutWatched.p50),
            Format.millis(result.etcdPutWatched.p99), Format.millis(result.etcdPutWatched.max), "")
        table.add(
            "dsd put through an agent, --etcd", Format.millis(result.onEtcd.p50), Format.millis(result.onEtcd.p99),
            Format.millis(result.onEtcd.max),
            "p50 ≤ baseline + 0.5 ms: \(Format.verdict(result.onEtcd.p50 <= p50Target))")
        table.add(
            "dsd put through an agent, log on tmpfs", Format.millis(result.onLog.p50), Format.millis(result.onLog.p99),
            Format.millis(result.onLog.max), "")
        Swift.print(table.render())
        var failover = TextTable("after a master SIGKILL (\(result.kills) kills)", "p50", "p99", "max", "target")
        if let writes = result.writeFailover {
            failover.add(
                "a put through an affected agent succeeds (\(writes.count))", Format.millis(writes.p50),
                Format.millis(writes.p99), Format.millis(writes.max),
                "p99 ≤ 1 s: \(Format.verdict(writes.p99 <= 1_000_000_000))")
        }
        if let duties = result.dutyFailover {
            failover.add(
                "a failed primary's backup promoted (\(duties.count))", Format.millis(duties.p50),
                Format.millis(duties.p99), Format.millis(duties.max),
                "p99 ≤ lease TTL + 1 s: \(Format.verdict(duties.p99 <= UInt64(leaseTTL + 1) * 1_000_000_000))")
        }
        Swift.print(failover.render())
    }
}
