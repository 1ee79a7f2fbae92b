import DSDCore
import DSDPosix
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
    /// The lease generation in `DATA/leases`, and whether a rewrite is scheduled or running.
    var savedGeneration: UInt64
    var saving = false
    /// When the loop last checked it was on time (`watchForStalls`).
    var lastStallCheck = Instant(nanoseconds: 0)
    /// A directory that starts (or takes over) grants the leases it learns a grace, and takes
    /// back the leases it stored before it stopped.
    init(settings: AgentLiveness.Settings, now: Instant, restoring stored: [AgentLiveness.PersistedAgent]) {
        machine = AgentLiveness(settings: settings)
        _ = machine.onStart(now: now, restoring: stored)
        savedGeneration = machine.generation
    }
}

/// Lost agents (PRODUCT §7): the engine feeds connection events, leases and writes to
/// `AgentLiveness` and carries out its directives — a timer on the loop, and `put(valid=0)`
/// through the same commit path as requests, so promotion follows.
extension DirectoryEngine {
    func livenessConnected(_ peer: PeerConnection, host: String, bootID: UInt64) {
        let id = peer.connectionID
        liveness.hosts[id] = host
        let before = liveness.machine.agents[host]?.bootID
        let directives = liveness.machine.onConnected(
            host: host, bootID: bootID, connection: id, now: LivenessDirectives.now())
        if let before, before != bootID {
            logger.notice(
                "agent restarted; its old leases are void",
                metadata: ["host.id": "\(host)", "boot.id": "\(bootID)", "boot.previous": "\(before)"])
        }
        carryOut(directives)
        persistLeasesIfChanged()
    }

    func livenessLeased(_ peer: PeerConnection, table: TableID, key: String, timeMaxMillis: UInt64) {
        let id = peer.connectionID
        guard let host = liveness.hosts[id], let entry = directory.entry(table: table, key: key) else { return }
        let timeMax = Duration.milliseconds(Int64(clamping: timeMaxMillis))
        carryOut(
            liveness.machine.onLease(
                host: host, connection: id, table: table, key: key, timeMax: timeMax, value: entry.value,
                now: LivenessDirectives.now()))
        persistLeasesIfChanged()
    }

    func livenessUnleased(_ peer: PeerConnection, table: TableID, key: String) {
        let id = peer.connectionID
        guard let host = liveness.hosts[id] else { return }
        carryOut(
            liveness.machine.onUnlease(
                host: host, connection: id, table: table, key: key, now: LivenessDirectives.now()))
        persistLeasesIfChanged()
    }

    /// A committed write from `peer`: a lease its host holds on the entry follows the value.
    func livenessWrote(_ peer: PeerConnection, _ mutation: Mutation) {
        guard case .put(let table, let entry) = mutation, let host = liveness.hosts[peer.connectionID] else {
            return
        }
        liveness.machine.onWrite(host: host, table: table, key: entry.key, value: entry.value)
        persistLeasesIfChanged()
    }

    /// Returns the host the connection announced, if it did.
    @discardableResult
    func livenessDisconnected(_ peer: PeerConnection) -> String? {
        let id = peer.connectionID
        guard let host = liveness.hosts.removeValue(forKey: id) else { return nil }
        carryOut(liveness.machine.onDisconnected(host: host, connection: id, now: LivenessDirectives.now()))
        return host
    }

    private func livenessTick() {
        liveness.timer = nil
        carryOut(liveness.machine.onTick(now: LivenessDirectives.now()))
        persistLeasesIfChanged()
    }

    /// How often the loop checks that it is not running late, and how late counts as a stall.
    static let stallCheckInterval: TimeAmount = .milliseconds(250)
    static let stallThreshold: Duration = PeerTiming.pingInterval

    /// Watches the loop's own punctuality: a tick that comes more than `stallThreshold` late
    /// means the directory could not answer anyone meanwhile (process paused, a log sync that
    /// blocked the loop), so agents that dropped it then are not lost (`onDirectoryStalled`).
    func watchForStalls() {
        let bound = NIOLoopBound(self, eventLoop: loop)
        liveness.lastStallCheck = LivenessDirectives.now()
        loop.scheduleRepeatedTask(initialDelay: Self.stallCheckInterval, delay: Self.stallCheckInterval) { _ in
            let engine = bound.value
            let now = LivenessDirectives.now()
            let gap = now - engine.liveness.lastStallCheck
            engine.liveness.lastStallCheck = now
            guard gap > Duration(Self.stallCheckInterval) + Self.stallThreshold else { return }
            engine.logger.warning(
                "the directory stalled; agents get a reconnect grace before losing their leases",
                metadata: ["stall.ms": "\(gap / .milliseconds(1))"])
            engine.carryOut(engine.liveness.machine.onDirectoryStalled(now: now))
        }
    }

    /// Arms the expiry of the leases restored from `DATA/leases` (call once, on the loop).
    func livenessStarted() {
        // Before any agent connects, every agent the machine knows was restored.
        guard !liveness.machine.agents.isEmpty else { return }
        logger.info(
            "leases restored; agents that do not come back lose them",
            metadata: ["agents": "\(liveness.machine.agents.count)", "leases": "\(liveness.machine.leaseCount)"])
        carryOut(liveness.machine.nextDeadline.map { [.armTimer(at: $0)] } ?? [])
    }

    // MARK: Persistence

    /// Rewrites `DATA/leases` shortly after the leases changed, on a background thread; at
    /// most one write at a time, the latest state last.
    private func persistLeasesIfChanged() {
        guard liveness.machine.generation != liveness.savedGeneration, !liveness.saving else { return }
        liveness.saving = true
        let bound = NIOLoopBound(self, eventLoop: loop)
        loop.scheduleTask(in: LeaseStore.interval) { bound.value.writeLeases() }
    }

    private func writeLeases() {
        let generation = liveness.machine.generation
        let agents = liveness.machine.persisted
        let directory = settings.dataDirectory
        let logger = self.logger
        let loop = self.loop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let started = PosixThread.detach {
            let written = LeaseStore.save(agents, directory: directory, logger: logger)
            loop.execute {
                let engine = bound.value
                engine.liveness.saving = false
                if written { engine.liveness.savedGeneration = max(engine.liveness.savedGeneration, generation) }
                engine.persistLeasesIfChanged()
            }
        }
        if !started { liveness.saving = false }
    }

    /// Writes `DATA/leases` now if it is behind (at shutdown, on the loop).
    func saveLeasesNow() {
        guard liveness.machine.generation != liveness.savedGeneration else { return }
        if LeaseStore.save(liveness.machine.persisted, directory: settings.dataDirectory, logger: logger) {
            liveness.savedGeneration = liveness.machine.generation
        }
    }

    private func carryOut(_ directives: [AgentLivenessDirective]) {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let timer = LivenessDirectives.carryOut(
            directives, timer: liveness.timer, loop: loop, logger: logger, directory: directory, commit: commitDerived
        ) { bound.value.livenessTick() }
        liveness.timer = timer
    }
}
