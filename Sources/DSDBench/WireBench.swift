import Crypto
import DSDAgent
import DSDCore
import DSDWire
import Foundation
import NIOCore
import NIOPosix

/// Bytes on the wire per pushed single-entry change.
///
/// A lightweight protocol peer authenticates with a real `dsd server` process and syncs; then
/// an in-process agent puts entries of known key and value sizes one at a time. The peer
/// counts every byte its socket delivered meanwhile (TCP payload, i.e. frames; IP and TCP
/// headers not included). Pongs answering the peer's own keep-alive pings are the only other
/// frames on that connection; their size is subtracted and shown.
struct WireBench {
    struct Case: Sendable {
        var name: String
        var table: String
        var key: @Sendable (Int) -> String
        var value: @Sendable (Int) -> String
    }

    struct Result {
        var name: String
        var changes: Int
        var bytesPerChange: Double
        var keyValuePerChange: Double
        var subtracted: Int
        var version: Version?
        /// The directory process's user + system CPU per change (the put's request, commit,
        /// and its pushes to the writing agent and the counting peer).
        var directoryCPUPerChange: Double?
        var overhead: Double { bytesPerChange - keyValuePerChange }
    }

    let dsd: String
    let scratch: Scratch
    let children: ChildProcesses
    let puts: Int
    /// 24 bytes for the frame (issue 3's target), plus what sealing adds to a change that
    /// travels alone: its record's length prefix (1 byte up to 127 bytes of frames) and the
    /// 16-byte tag. Changes pushed together share one record (`RecordSealer`).
    static let target = 24.0 + 1 + Double(RecordCipher.tagBytes)

    static let dynamicTable = "BENCH_WIRE"

    static let cases: [Case] = [
        Case(
            name: "MDS.n → HOSTn:1872 (DSD_MTID_METADATA, id 2)", table: StandardTable.metadata.name,
            key: { "MDS.\($0)" }, value: { "HOST\($0 % 1000):1872" }),
        Case(
            name: "HOSTn.0 → 127.0.n.1 (DSD_HOST_ROUTE, id 4)", table: StandardTable.hostRoute.name,
            key: { "HOST\($0).0" }, value: { "127.0.\($0 % 256).1" }),
        Case(
            name: "40 B key, 100 B value (dynamic table, id ≥ 1024)", table: dynamicTable,
            key: { pad("K\($0)", 40) }, value: { pad("V\($0)", 100) }),
        Case(
            name: "255 B key, 1024 B value (the maxima)", table: StandardTable.metadata.name,
            key: { pad("MAXKEY.\($0).", 255) }, value: { pad("MAXVALUE.\($0).", 1024) }),
    ]

    func run() throws -> [Result] {
        let cluster = try Cluster(dsd: dsd, scratch: scratch, children: children, name: "wire")
        defer { cluster.stop() }
        try cluster.startServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let writer = try cluster.startAgent(host: "HOSTW")
        do {
            _ = try writer.createTable(Self.dynamicTable)
        } catch {
            throw BenchError("cannot create \(Self.dynamicTable): \(error)")
        }
        let peer = RawPeer(name: "HOSTR")
        let port = cluster.port
        let key = cluster.key
        try blocking { try await peer.connect(port: port, key: key, group: group, pingInterval: .seconds(2)) }
        defer { try? blocking { await peer.close() } }
        try waitUntil(timeout: .seconds(10), what: "the counting peer to sync") { peer.current.synced }

        var results: [Result] = []
        let serverPID = cluster.server?.pid ?? 0
        for (caseIndex, item) in Self.cases.enumerated() {
            let before = peer.current
            let cpuBefore = processCPUMicroseconds(pid: serverPID)
            var keyValueBytes = 0
            var last = Version.zero
            for index in 0..<puts {
                let n = caseIndex * 100_000 + index
                let entry = Entry(key: item.key(n), value: item.value(n))
                keyValueBytes += entry.key.utf8.count + entry.value.utf8.count
                do {
                    last = try writer.put(table: item.table, entry: entry)
                } catch {
                    throw BenchError("put failed: \(error)")
                }
            }
            try waitUntil(timeout: .seconds(10), what: "the counting peer to receive \(puts) changes") {
                (peer.current.lastVersion ?? .zero) >= last
            }
            let after = peer.current
            let cpuAfter = processCPUMicroseconds(pid: serverPID)
            if let failure = after.failure { throw BenchError("counting peer: \(failure)") }
            let changes = after.changes - before.changes
            let subtracted = after.otherFrameBytes - before.otherFrameBytes
            let bytes = after.socketBytes - before.socketBytes - subtracted
            results.append(
                Result(
                    name: item.name, changes: changes, bytesPerChange: Double(bytes) / Double(changes),
                    keyValuePerChange: Double(keyValueBytes) / Double(puts), subtracted: subtracted, version: last,
                    directoryCPUPerChange: cpuBefore.flatMap { start in
                        cpuAfter.map { Double($0 - start) / Double(max(changes, 1)) }
                    }))
        }
        return results
    }

    /// CPU of sealing and opening one record carrying one pushed change's frame, in process.
    struct SealCost {
        var frameBytes: Int
        var sealMicroseconds: Double
        var openMicroseconds: Double
    }

    static func sealCosts(iterations: Int = 100_000) throws -> [SealCost] {
        let key = SymmetricKey(size: .bits256)
        var costs: [SealCost] = []
        for item in cases {
            var frame = ByteBuffer()
            let entry = Entry(key: item.key(7), value: item.value(7))
            try frame.writeFrame(
                .change(Change(version: Version(epoch: 1_764_000_000, index: 1000), mutation: .put(TableID(2), entry))))
            var sealer = RecordCipher(key: key)
            var opener = RecordCipher(key: key)
            var records = ByteBuffer()
            let sealStart = ContinuousClock.now
            for _ in 0..<iterations {
                records.clear()
                sealer.seal(frame.readableBytesView, into: &records)
            }
            let sealTime = ContinuousClock.now - sealStart
            var sealed: [ByteBuffer] = []
            var again = RecordCipher(key: key)
            for _ in 0..<iterations {
                var record = ByteBuffer()
                again.seal(frame.readableBytesView, into: &record)
                sealed.append(record)
            }
            var plaintext = ByteBuffer()
            let openStart = ContinuousClock.now
            for index in 0..<iterations {
                plaintext.clear()
                guard try opener.open(&sealed[index], into: &plaintext) else { throw BenchError("record incomplete") }
            }
            let openTime = ContinuousClock.now - openStart
            costs.append(
                SealCost(
                    frameBytes: frame.readableBytes,
                    sealMicroseconds: sealTime.inSeconds * 1e6 / Double(iterations),
                    openMicroseconds: openTime.inSeconds * 1e6 / Double(iterations)))
        }
        return costs
    }

    static func print(_ costs: [SealCost]) {
        heading("wire: sealing one pushed change (ChaCha20-Poly1305 record, in process, 100,000 each)")
        var table = TextTable("entries", "frame bytes", "record bytes", "seal µs", "open µs")
        for (item, cost) in zip(cases, costs) {
            table.add(
                item.name, "\(cost.frameBytes)",
                "\(cost.frameBytes + RecordCipher.lengthPrefix(cost.frameBytes).count + RecordCipher.tagBytes)",
                String(format: "%.2f", cost.sealMicroseconds), String(format: "%.2f", cost.openMicroseconds))
        }
        Swift.print(table.render())
        Swift.print("  Each peer's pushes are sealed under its own keys: the seal cost is per peer and record.")
    }

    static func print(_ results: [Result]) {
        heading("wire: bytes received by an agent connection per pushed single-entry change")
        var table = TextTable(
            "entries", "changes", "bytes/change", "key+value", "overhead", "target", "", "directory CPU µs/change")
        for result in results {
            table.add(
                result.name, "\(result.changes)", String(format: "%.2f", result.bytesPerChange),
                String(format: "%.2f", result.keyValuePerChange), String(format: "%.2f", result.overhead),
                String(format: "≤ %.0f", target), Format.verdict(result.overhead <= target),
                result.directoryCPUPerChange.map { String(format: "%.1f", $0) } ?? "?")
        }
        Swift.print(table.render())
        let subtracted = results.reduce(0) { $0 + $1.subtracted }
        if let version = results.last?.version {
            let epochBytes = ByteBuffer.varintSize(version.epoch)
            Swift.print(
                "  Counted: TCP payload bytes read from the socket (frames), minus \(subtracted) bytes of pongs"
                    + " to the peer's keep-alive pings.")
            Swift.print(
                "  The epoch (\(version.epoch), from the wall clock) takes \(epochBytes) bytes of every change;"
                    + " the index (\(version.index) at the end) \(ByteBuffer.varintSize(version.index)).")
        }
    }
}

private func pad(_ text: String, _ length: Int) -> String {
    text.count >= length ? String(text.prefix(length)) : text + String(repeating: "x", count: length - text.count)
}
