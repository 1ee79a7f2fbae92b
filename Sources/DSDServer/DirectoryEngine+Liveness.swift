import DSDCore
import DSDWire
import Dispatch
import Logging
import NIOCore

/// The driver state of lost-agent detection: the pure `AgentLiveness` machine, its one timer,
/// and which host each announced connection belongs to.
struct LivenessDriver {
    var machine: AgentLiveness
    var timer: Scheduled<Void>?
    var hosts: [UInt64: String] = [:]

    /// A directory that starts (or takes over) grants the leases it learns a grace.
    init(settings: AgentLiveness.Settings, now: Instant) {
        machine = AgentLiveness(settings: settings)
        _ = machine.onStart(now: now)
    }
}

/// Lost agents (PRODUCT §7): the engine feeds connection events, leases and writes to
/// `AgentLiveness` and carries out its directives — a timer on the loop, and `put(valid=0)`
/// through the same commit path as requests, so promotion follows.
extension DirectoryEngine {
    static func livenessNow() -> Instant {
        Instant(nanoseconds: DispatchTime.now().uptimeNanoseconds)
    }

    /// A connection's id for the machine. Unique among live connections; an address reused
    /// after a connection is gone is harmless because its disconnect was already handled.
    static func connectionID(_ peer: PeerConnection) -> UInt64 {
        UInt64(UInt(bitPattern: ObjectIdentifier(peer)))
    }

    func livenessConnected(_ peer: PeerConnection, host: String, bootID: UInt64) {
        let id = Self.connectionID(peer)
        liveness.hosts[id] = host
        let before = liveness.machine.agents[host]?.bootID
        let directives = liveness.machine.onConnected(
            host: host, bootID: bootID, connection: id, now: Self.livenessNow())
        if let before, before != bootID {
            logger.notice(
                "agent restarted; its old leases are void",
                metadata: ["host.id": "\(host)", "boot.id": "\(bootID)", "boot.previous": "\(before)"])
        }
        carryOut(directives)
    }

    func livenessLeased(_ peer: PeerConnection, table: TableID, key: String, timeMaxMillis: UInt64) {
        let id = Self.connectionID(peer)
        guard let host = liveness.hosts[id], let entry = directory.entry(table: table, key: key) else { return }
        let timeMax = Duration.milliseconds(Int64(clamping: timeMaxMillis))
        carryOut(
            liveness.machine.onLease(
                host: host, connection: id, table: table, key: key, timeMax: timeMax, value: entry.value,
                now: Self.livenessNow()))
    }

    func livenessUnleased(_ peer: PeerConnection, table: TableID, key: String) {
        let id = Self.connectionID(peer)
        guard let host = liveness.hosts[id] else { return }
        carryOut(
            liveness.machine.onUnlease(host: host, connection: id, table: table, key: key, now: Self.livenessNow()))
    }

    /// A committed write from `peer`: a lease its host holds on the entry follows the value.
    func livenessWrote(_ peer: PeerConnection, _ mutation: Mutation) {
        guard case .put(let table, let entry) = mutation, let host = liveness.hosts[Self.connectionID(peer)] else {
            return
        }
        liveness.machine.onWrite(host: host, table: table, key: entry.key, value: entry.value)
    }

    func livenessDisconnected(_ peer: PeerConnection) {
        let id = Self.connectionID(peer)
        guard let host = liveness.hosts.removeValue(forKey: id) else { return }
        carryOut(liveness.machine.onDisconnected(host: host, connection: id, now: Self.livenessNow()))
    }

    private func livenessTick() {
        liveness.timer = nil
        carryOut(liveness.machine.onTick(now: Self.livenessNow()))
    }

    private func carryOut(_ directives: [AgentLivenessDirective]) {
        for directive in directives {
            switch directive {
            case .armTimer(let at):
                liveness.timer?.cancel()
                let now = Self.livenessNow()
                let delay = at > now ? at - now : .zero
                let bound = NIOLoopBound(self, eventLoop: loop)
                liveness.timer = loop.scheduleTask(in: TimeAmount(delay)) { bound.value.livenessTick() }
            case .markInvalid(let table, let key, let value):
                guard var entry = directory.entry(table: table, key: key), entry.valid, entry.value == value else {
                    continue
                }
                entry.valid = false
                logger.notice(
                    "agent lost; marking its heartbeated entry invalid",
                    metadata: ["table.id": "\(table)", "key": "\(key)"])
                commitDerived(.put(table, entry))
            }
        }
    }
}
