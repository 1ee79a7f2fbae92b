import DSDCore
import DSDEtcd
import DSDWire
import FoundationEssentials
import Logging
import NIOCore

/// What etcd keeps of one agent (`P agents/<host>`): who it is, which routes it probes on, and
/// which heartbeated entries it watches over. Written by the server the agent is connected
/// to; read by the master, which decides agent loss and probes routes from it.
struct AgentRecord: Codable, Hashable, Sendable {
    struct Lease: Codable, Hashable, Sendable {
        var table: UInt32
        var key: String
        var timeMaxMillis: UInt64
        /// The entry's value when leased, following the agent's own later writes.
        var value: String
    }

    struct Route: Codable, Hashable, Sendable {
        var index: UInt32
        var address: String
    }

    var bootID: UInt64
    var probePort: UInt16
    var routes: [Route]
    var leases: [Lease]

    init(bootID: UInt64, probePort: UInt16, routes: [Route], leases: [Lease]) {
        self.bootID = bootID
        self.probePort = probePort
        self.routes = routes
        self.leases = leases
    }

    init?(json: [UInt8]) {
        guard let record = try? JSONDecoder().decode(AgentRecord.self, from: Data(json)) else { return nil }
        self = record
    }

    var json: [UInt8] { (try? Array(JSONEncoder().encode(self))) ?? [] }

    var announce: Announce {
        Announce(
            bootID: bootID, probePort: probePort,
            routes: routes.map { RouteAnnouncement(index: $0.index, address: $0.address) })
    }

    var persisted: AgentLiveness.PersistedAgent {
        .init(
            host: "", bootID: bootID,
            leases: leases.map {
                .init(
                    table: TableID($0.table), key: $0.key, timeMax: .milliseconds(Int64(clamping: $0.timeMaxMillis)),
                    value: $0.value)
            })
    }
}

/// An agent connected to this server: its connection id (published as its presence) and the
/// record this server keeps up to date in etcd.
struct HostedAgent {
    var host: String
    var connection: UInt64
    var record: AgentRecord
    /// A write of the record is in flight; `dirty` asks for another after it.
    var writing = false
    var dirty = false
    /// The presence key must be (re)written with the record: a new connection, a new lease.
    var needsPresence = true
}

// MARK: Every server: the agents connected to it

extension EtcdDirectoryEngine {
    func announced(_ peer: PeerConnection, name: String, _ announce: Announce) {
        let id = ObjectIdentifier(peer)
        // Leases the agent held before (this boot) carry over; it re-leases them anyway.
        let previous = agentRecords[name].flatMap { $0.bootID == announce.bootID ? $0.leases : nil } ?? []
        let record = AgentRecord(
            bootID: announce.bootID, probePort: announce.probePort,
            routes: announce.routes.map { .init(index: $0.index, address: $0.address) }, leases: previous)
        hosted[id] = HostedAgent(host: name, connection: UInt64.random(in: 1...UInt64.max), record: record)
        logger.info(
            "agent announced",
            metadata: [
                "host.id": "\(name)", "boot.id": "\(announce.bootID)",
                "routes": "\(announce.routes.map { "\($0.index)=\($0.address)" }.joined(separator: ","))",
            ])
        writeRecord(id)
    }

    func livenessLeased(_ peer: PeerConnection, table: TableID, key: String, timeMaxMillis: UInt64) {
        let id = ObjectIdentifier(peer)
        guard var agent = hosted[id], let entry = directory.entry(table: table, key: key) else { return }
        let lease = AgentRecord.Lease(table: table.rawValue, key: key, timeMaxMillis: timeMaxMillis, value: entry.value)
        agent.record.leases.removeAll { $0.table == table.rawValue && $0.key == key }
        agent.record.leases.append(lease)
        hosted[id] = agent
        writeRecord(id)
    }

    func livenessUnleased(_ peer: PeerConnection, table: TableID, key: String) {
        let id = ObjectIdentifier(peer)
        guard var agent = hosted[id] else { return }
        let before = agent.record.leases.count
        agent.record.leases.removeAll { $0.table == table.rawValue && $0.key == key }
        guard agent.record.leases.count != before else { return }
        hosted[id] = agent
        writeRecord(id)
    }

    /// A write of `peer` committed: a lease its host holds on the entry follows the value.
    func hostedWrote(_ peer: ObjectIdentifier, table: TableID, entry: Entry) {
        guard var agent = hosted[peer],
            let index = agent.record.leases.firstIndex(where: { $0.table == table.rawValue && $0.key == entry.key }),
            agent.record.leases[index].value != entry.value
        else { return }
        agent.record.leases[index].value = entry.value
        hosted[peer] = agent
        writeRecord(peer)
    }

    /// The agent's connection closed: its presence goes, unless it is already on another
    /// connection (of this or another server). The record stays.
    func hostedGone(_ peer: ObjectIdentifier) {
        guard let agent = hosted.removeValue(forKey: peer) else { return }
        let key = layout.presenceKey(agent.host)
        let client = self.client
        Task {
            _ = try? await client.txn(
                [Compare(key: key, .value(Array(String(agent.connection).utf8)), .equal)],
                success: [.delete(.key(key))], resendUnanswered: true)
        }
    }

    /// Writes every connected agent's record and presence again (a new lease).
    func rewriteHostedRecords() {
        for peer in hosted.keys {
            hosted[peer]?.needsPresence = true
            writeRecord(peer)
        }
    }

    /// Writes the agent's record (and its presence, on a new connection); one write per agent
    /// at a time, the latest state last.
    private func writeRecord(_ peer: ObjectIdentifier) {
        guard var agent = hosted[peer] else { return }
        guard !agent.writing else {
            hosted[peer]?.dirty = true
            return
        }
        guard let lease = election.lease else {
            // Before this server holds a lease there is no presence to bind; retry shortly.
            let bound = NIOLoopBound(self, eventLoop: loop)
            loop.scheduleTask(in: .milliseconds(100)) { bound.value.writeRecord(peer) }
            return
        }
        agent.writing = true
        agent.dirty = false
        let withPresence = agent.needsPresence
        agent.needsPresence = false
        hosted[peer] = agent
        var operations: [TxnOperation] = [.put(key: layout.agentKey(agent.host), value: agent.record.json)]
        if withPresence {
            operations.append(
                .put(key: layout.presenceKey(agent.host), value: Array(String(agent.connection).utf8), lease: lease))
        }
        let client = self.client
        let loop = self.loop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let host = agent.host
        let logger = self.logger
        Task {
            let written: Bool
            do {
                _ = try await client.txn([], success: operations, resendUnanswered: true)
                written = true
            } catch {
                written = false
                logger.warning(
                    "cannot store an agent's record in etcd; trying again",
                    metadata: ["host.id": "\(host)", "error": "\(EtcdDirectoryEngine.sentence(error))"])
            }
            loop.execute {
                let engine = bound.value
                guard var agent = engine.hosted[peer] else { return }
                agent.writing = false
                if !written { agent.needsPresence = agent.needsPresence || withPresence }
                engine.hosted[peer] = agent
                if !written {
                    loop.scheduleTask(in: .milliseconds(250)) { bound.value.writeRecord(peer) }
                } else if agent.dirty || agent.needsPresence {
                    engine.writeRecord(peer)
                }
            }
        }
    }
}
