import DSDCore
import DSDEtcd
import DSDWire
import Logging
import NIOCore

/// The singleton duties of the master: lost-agent expiry and route probing, fed by the agents'
/// records and presence as etcd has them, so any server can take them over.
struct MasterDuties {
    var liveness: AgentLiveness
    var timer: Scheduled<Void>?
    var prober: RouteProber?
}

// MARK: Every server: the records as etcd has them; the master acts on them

extension EtcdDirectoryEngine {
    /// Records and presence changed at one revision: records first (a new connection writes
    /// both, and the presence needs the record's boot id).
    func agentEvents(_ events: [DSDEtcd.WatchEvent]) {
        for event in events {
            guard case .agent(let host) = layout.classify(event.kv.key) else { continue }
            let old = agentRecords[host]
            let new = event.kind == .put ? AgentRecord(json: event.kv.value) : nil
            agentRecords[host] = new
            if duties != nil { recordChanged(host, from: old, to: new) }
        }
        for event in events {
            guard case .presence(let host) = layout.classify(event.kv.key) else { continue }
            let old = presence[host]
            let new = event.kind == .put ? EtcdLayout.decimal(event.kv.value) : nil
            presence[host] = new
            if duties != nil { presenceChanged(host, from: old, to: new) }
        }
    }

    /// A relist replaced everything: a master starts its duties over from the new state.
    func replaceAgents(_ records: [String: AgentRecord], presence: [String: UInt64]) {
        agentRecords = records
        self.presence = presence
        if duties != nil {
            stopDuties()
            startDuties()
        }
    }

    /// Becoming master: every known lease gets the grace of a start (no mass expiry on
    /// failover), every present agent counts as connected, and route probing starts.
    func startDuties() {
        var liveness = AgentLiveness(settings: settings.liveness)
        let now = LivenessDirectives.now()
        var directives = liveness.onStart(
            now: now,
            restoring: agentRecords.map { host, record in
                var agent = record.persisted
                agent.host = host
                return agent
            })
        for (host, connection) in presence {
            guard let record = agentRecords[host] else { continue }
            directives += liveness.onConnected(host: host, bootID: record.bootID, connection: connection, now: now)
        }
        duties = MasterDuties(liveness: liveness)
        carryOut(directives)
        logger.info(
            "master duties started: lost-agent expiry and route probing",
            metadata: [
                "agents": "\(agentRecords.count)", "present": "\(presence.count)", "leases": "\(liveness.leaseCount)",
            ])
        let bound = NIOLoopBound(self, eventLoop: loop)
        RouteProber.start(engine: self).whenComplete { result in
            let engine = bound.value
            guard case .success(let prober) = result else {
                engine.logger.error("cannot start route probing")
                return
            }
            guard engine.duties != nil else {
                prober.stop()
                return
            }
            engine.duties?.prober = prober
            for (host, connection) in engine.presence {
                if let record = engine.agentRecords[host] {
                    prober.announced(owner: connection, host: host, record.announce)
                }
            }
        }
    }

    func stopDuties() {
        duties?.timer?.cancel()
        duties?.prober?.stop()
        duties = nil
    }

    private func recordChanged(_ host: String, from old: AgentRecord?, to new: AgentRecord?) {
        guard var liveness = duties?.liveness else { return }
        let now = LivenessDirectives.now()
        let connection = presence[host] ?? 0
        var directives: [AgentLivenessDirective] = []
        let before = Dictionary((old?.leases ?? []).map { ("\($0.table)/\($0.key)", $0) }, uniquingKeysWith: { $1 })
        let after = Dictionary((new?.leases ?? []).map { ("\($0.table)/\($0.key)", $0) }, uniquingKeysWith: { $1 })
        if old?.bootID == new?.bootID || old == nil {
            for (ref, lease) in after {
                let table = TableID(lease.table)
                if let earlier = before[ref], earlier.timeMaxMillis == lease.timeMaxMillis {
                    if earlier.value != lease.value {
                        liveness.onWrite(host: host, table: table, key: lease.key, value: lease.value)
                    }
                    continue
                }
                directives += liveness.onLease(
                    host: host, connection: connection, table: table, key: lease.key,
                    timeMax: .milliseconds(Int64(clamping: lease.timeMaxMillis)), value: lease.value, now: now)
            }
            for (ref, lease) in before where after[ref] == nil {
                directives += liveness.onUnlease(
                    host: host, connection: connection, table: TableID(lease.table), key: lease.key, now: now)
            }
        }
        duties?.liveness = liveness
        carryOut(directives)
        if let new, let connection = presence[host], old?.routes != new.routes || old?.probePort != new.probePort {
            duties?.prober?.announced(owner: connection, host: host, new.announce)
        }
    }

    private func presenceChanged(_ host: String, from old: UInt64?, to new: UInt64?) {
        guard var liveness = duties?.liveness else { return }
        let now = LivenessDirectives.now()
        var directives: [AgentLivenessDirective] = []
        if let new, let record = agentRecords[host] {
            directives += liveness.onConnected(host: host, bootID: record.bootID, connection: new, now: now)
            // The leases the record holds belong to this connection now.
            for lease in record.leases {
                directives += liveness.onLease(
                    host: host, connection: new, table: TableID(lease.table), key: lease.key,
                    timeMax: .milliseconds(Int64(clamping: lease.timeMaxMillis)), value: lease.value, now: now)
            }
            duties?.prober?.announced(owner: new, host: host, record.announce)
        } else if let old {
            directives += liveness.onDisconnected(host: host, connection: old, now: now)
            duties?.prober?.connectionGone(old, host: host)
        }
        duties?.liveness = liveness
        carryOut(directives)
    }

    private func livenessTick() {
        guard var liveness = duties?.liveness else { return }
        duties?.timer = nil
        let directives = liveness.onTick(now: LivenessDirectives.now())
        duties?.liveness = liveness
        carryOut(directives)
    }

    private func carryOut(_ directives: [AgentLivenessDirective]) {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let timer = LivenessDirectives.carryOut(
            directives, timer: duties?.timer, loop: loop, logger: logger, directory: directory, commit: commitDerived
        ) { bound.value.livenessTick() }
        duties?.timer = timer
    }
}

extension EtcdDirectoryEngine: RouteProberHost {
    func currentEntry(table: TableID, key: String) -> Entry? { directory.entry(table: table, key: key) }
}
