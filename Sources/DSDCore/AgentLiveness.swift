/// What the driver of an `AgentLiveness` must do.
public enum AgentLivenessDirective: Hashable, Sendable {
    /// The agent that heartbeated this entry is gone: mark the entry invalid — but only if it
    /// is still valid and still holds `value` (someone else may own it by now).
    case markInvalid(TableID, key: String, value: String)
    /// Call `onTick` at this instant (replaces any earlier request).
    case armTimer(at: Instant)
}

/// Lost agents (PRODUCT §7: "an agent that disappears takes its heartbeated entries with it")
/// as a pure state machine on the directory.
///
/// Heartbeats are checked by the agent of the server's host (`HeartbeatTracker`); the
/// directory only learns which entries each agent is watching over: a *lease* (table, key,
/// Time_Max) that the agent sends when a touch first arms an entry or changes its Time_Max,
/// and on every (re)connect for all of them. Agents are known by host name and boot id (random
/// per agent process), and by the id of their current connection.
///
/// - `onDisconnected` starts the agent's timeout. A tick at or after `disconnectedAt +
///   agentTimeout` asks for every lease of the agent to be marked invalid and forgets the
///   agent. A reconnect with the same boot id before that cancels the expiry.
/// - A connect with a *different* boot id is a restarted agent: the old process's leases are
///   marked invalid at once (the restarted process re-leases what it heartbeats, and its
///   touches make those entries valid again).
/// - A disconnect of a connection that is no longer the agent's current one (it reconnected
///   before the directory noticed the old socket closing) is ignored.
/// - Grace after a directory start or takeover (`onStart(s)`): agents come back one by one.
///   Every lease learned after `onStart(s)` — at any later time — gets a floor: it is never
///   expired before `s + its Time_Max + agentTimeout`. So within the first Time_Max +
///   agentTimeout after a start, an agent that leased and dropped its connection again keeps
///   its entries until its own heartbeat deadline could have told the truth; after that the
///   floor is in the past and has no effect. A restart detected by boot id ignores the floor
///   (it is proof).
/// - A stalled directory (`onDirectoryStalled`) grants every lease the same grace as a start.
/// - Leases survive a directory restart (`persisted`, `onStart(now:restoring:)`): each agent
///   that held leases is restored as disconnected at the start. An agent that comes back with
///   the same boot id keeps them; one that restarted meanwhile (another boot id) loses them at
///   once; one that never comes back — it died while the directory was down — loses them at
///   `s + max(Time_Max, reconnectWindow) + agentTimeout`.
/// - A lease remembers the entry's value when it was learned, and follows later writes of
///   that entry *by the same host* (`onWrite`); expiry names that value, so an entry rewritten
///   by another host in the meantime is left alone.
///
/// Deadlines are found by scanning the disconnected agents on each tick (ticks only happen
/// while some agent is disconnected and holds leases), so a tick costs O(disconnected agents
/// + their leases).
public struct AgentLiveness: Sendable {
    public struct Settings: Hashable, Sendable {
        /// How long a disconnected agent's leases survive before they are marked invalid.
        public var agentTimeout: Duration
        /// How long after a directory start a live agent may take to come back: its reconnect
        /// backoff (up to 2 s ± 50%, `AgentSettings.reconnectMax`) plus a connect and
        /// handshake on a loaded host. Leases restored from before the start are not expired
        /// earlier than this (plus `agentTimeout`): a false expiry would invalidate live
        /// entries and promote their backups, which never flip back.
        public var reconnectWindow: Duration

        public init(agentTimeout: Duration, reconnectWindow: Duration = .seconds(5)) {
            self.agentTimeout = agentTimeout
            self.reconnectWindow = reconnectWindow
        }

        /// One second: a SIGKILLed agent's socket closes at once, so the only thing to ride
        /// out is a transient reconnect (backoff starts at 50 ms); a second covers several
        /// retries yet stays well below the typical three-second Time_Max of the heartbeats
        /// it protects.
        public static let `default` = Settings(agentTimeout: .seconds(1))
        /// Short, for tests with explicit instants and fast real timers.
        public static let testing = Settings(agentTimeout: .milliseconds(200), reconnectWindow: .milliseconds(500))
    }

    /// An entry of a table.
    public struct LeaseRef: Hashable, Sendable {
        public var table: TableID
        public var key: String

        public init(table: TableID, key: String) {
            self.table = table
            self.key = key
        }
    }

    /// What the directory knows about one leased entry.
    public struct Lease: Hashable, Sendable {
        public var timeMax: Duration
        /// The entry's value the lease protects.
        public var value: String
        /// Grace floor after a directory start: no expiry before this instant.
        public var notBefore: Instant?
    }

    /// One agent, by host name.
    public struct AgentRecord: Hashable, Sendable {
        public var bootID: UInt64
        /// The current connection; nil while disconnected.
        public var connection: UInt64?
        public var disconnectedAt: Instant?
        public var leases: [LeaseRef: Lease]
    }

    /// One agent's leases as stored across directory restarts (no instants: they are
    /// meaningless in another process).
    public struct PersistedAgent: Hashable, Sendable {
        public var host: String
        public var bootID: UInt64
        public var leases: [PersistedLease]

        public init(host: String, bootID: UInt64, leases: [PersistedLease]) {
            self.host = host
            self.bootID = bootID
            self.leases = leases
        }
    }

    public struct PersistedLease: Hashable, Sendable {
        public var table: TableID
        public var key: String
        public var timeMax: Duration
        public var value: String

        public init(table: TableID, key: String, timeMax: Duration, value: String) {
            self.table = table
            self.key = key
            self.timeMax = timeMax
            self.value = value
        }
    }

    public let settings: Settings
    private(set) public var agents: [String: AgentRecord] = [:]
    private var startedAt: Instant?
    /// Changes whenever the set of leases (or a protected value) changes: the driver persists
    /// `persisted` when it differs from the generation it last wrote.
    private(set) public var generation: UInt64 = 0

    /// Every agent's leases, by host and key order, for storing.
    public var persisted: [PersistedAgent] {
        agents.keys.sorted().compactMap { host in
            guard let record = agents[host], !record.leases.isEmpty else { return nil }
            let leases = record.leases.sorted {
                ($0.key.table.rawValue, $0.key.key) < ($1.key.table.rawValue, $1.key.key)
            }
            .map {
                PersistedLease(table: $0.key.table, key: $0.key.key, timeMax: $0.value.timeMax, value: $0.value.value)
            }
            return PersistedAgent(host: host, bootID: record.bootID, leases: leases)
        }
    }

    public init(settings: Settings = .default) { self.settings = settings }

    /// Number of leases held by all agents.
    public var leaseCount: Int { agents.values.reduce(0) { $0 + $1.leases.count } }

    /// The earliest instant at which `onTick` has something to do.
    public var nextDeadline: Instant? {
        var earliest: Instant?
        for record in agents.values {
            guard let since = record.disconnectedAt else { continue }
            for lease in record.leases.values {
                let due = deadline(lease, disconnectedAt: since)
                if earliest.map({ due < $0 }) ?? true { earliest = due }
            }
            if record.leases.isEmpty {
                let due = since + settings.agentTimeout
                if earliest.map({ due < $0 }) ?? true { earliest = due }
            }
        }
        return earliest
    }

    // MARK: Events

    /// The directory started serving (fresh start, restart or takeover).
    public mutating func onStart(now: Instant) -> [AgentLivenessDirective] {
        onStart(now: now, restoring: [])
    }

    /// The directory started with the leases it stored before it stopped: their agents count
    /// as disconnected since `now`, each lease with the start-up floor.
    public mutating func onStart(now: Instant, restoring stored: [PersistedAgent]) -> [AgentLivenessDirective] {
        startedAt = now
        for agent in stored where !agent.leases.isEmpty {
            var leases: [LeaseRef: Lease] = [:]
            for lease in agent.leases {
                let floor = graceFloor(timeMax: lease.timeMax, from: now)
                leases[LeaseRef(table: lease.table, key: lease.key)] = Lease(
                    timeMax: lease.timeMax, value: lease.value, notBefore: floor)
            }
            agents[agent.host] = AgentRecord(bootID: agent.bootID, connection: nil, disconnectedAt: now, leases: leases)
        }
        return timer()
    }

    /// The directory could not serve its connections until `now` (its process was paused, or
    /// a log sync blocked its loop): agents may have given up on it and be in their reconnect
    /// backoff through no fault of theirs. Every lease gets the grace of a start — no expiry
    /// before `now + max(Time_Max, reconnectWindow) + agentTimeout` — so the directory's
    /// absence never looks like theirs.
    public mutating func onDirectoryStalled(now: Instant) -> [AgentLivenessDirective] {
        for host in agents.keys {
            guard var record = agents[host] else { continue }
            for (ref, lease) in record.leases {
                let floor = graceFloor(timeMax: lease.timeMax, from: now)
                record.leases[ref]?.notBefore = max(lease.notBefore ?? floor, floor)
            }
            agents[host] = record
        }
        return timer()
    }

    /// An agent authenticated and announced its boot id on `connection`.
    public mutating func onConnected(host: String, bootID: UInt64, connection: UInt64, now: Instant)
        -> [AgentLivenessDirective]
    {
        guard var record = agents[host] else {
            agents[host] = AgentRecord(bootID: bootID, connection: connection, disconnectedAt: nil, leases: [:])
            return []
        }
        if record.bootID != bootID {
            let directives = record.leases.sorted { $0.key.key < $1.key.key }.map { ref, lease in
                AgentLivenessDirective.markInvalid(ref.table, key: ref.key, value: lease.value)
            }
            agents[host] = AgentRecord(bootID: bootID, connection: connection, disconnectedAt: nil, leases: [:])
            if !directives.isEmpty { generation += 1 }
            return directives + timer()
        }
        record.connection = connection
        record.disconnectedAt = nil
        agents[host] = record
        return []
    }

    /// The agent on `connection` watches `table`/`key` (whose value is now `value`).
    public mutating func onLease(
        host: String, connection: UInt64, table: TableID, key: String, timeMax: Duration, value: String,
        now: Instant
    ) -> [AgentLivenessDirective] {
        guard var record = agents[host], record.connection == connection else { return [] }
        let floor = startedAt.map { $0 + timeMax + settings.agentTimeout }
        let ref = LeaseRef(table: table, key: key)
        let previous = record.leases[ref]
        record.leases[ref] = Lease(timeMax: timeMax, value: value, notBefore: floor.flatMap { $0 > now ? $0 : nil })
        agents[host] = record
        if previous?.timeMax != timeMax || previous?.value != value { generation += 1 }
        return []
    }

    /// The agent on `connection` no longer watches `table`/`key` (the entry was deleted).
    public mutating func onUnlease(host: String, connection: UInt64, table: TableID, key: String, now: Instant)
        -> [AgentLivenessDirective]
    {
        guard var record = agents[host], record.connection == connection else { return [] }
        if record.leases.removeValue(forKey: LeaseRef(table: table, key: key)) != nil { generation += 1 }
        agents[host] = record
        return []
    }

    /// `host` wrote `value` into `table`/`key`: a lease it holds there now protects that value.
    public mutating func onWrite(host: String, table: TableID, key: String, value: String) {
        let ref = LeaseRef(table: table, key: key)
        guard let lease = agents[host]?.leases[ref], lease.value != value else { return }
        agents[host]?.leases[ref]?.value = value
        generation += 1
    }

    /// The connection closed (socket closed, idle timeout or error).
    public mutating func onDisconnected(host: String, connection: UInt64, now: Instant) -> [AgentLivenessDirective] {
        guard var record = agents[host], record.connection == connection else { return [] }
        record.connection = nil
        record.disconnectedAt = now
        agents[host] = record
        return timer()
    }

    /// Expires the leases of agents gone for `agentTimeout` (and past their grace floor).
    public mutating func onTick(now: Instant) -> [AgentLivenessDirective] {
        var directives: [AgentLivenessDirective] = []
        for host in agents.keys.sorted() {
            guard var record = agents[host], let since = record.disconnectedAt else { continue }
            for (ref, lease) in record.leases.sorted(by: { $0.key.key < $1.key.key })
            where deadline(lease, disconnectedAt: since) <= now {
                directives.append(.markInvalid(ref.table, key: ref.key, value: lease.value))
                record.leases[ref] = nil
                generation += 1
            }
            if record.leases.isEmpty, since + settings.agentTimeout <= now {
                agents[host] = nil
            } else {
                agents[host] = record
            }
        }
        return directives + timer()
    }

    // MARK: Helpers

    /// No expiry before this, for a lease whose agent may be reconnecting after the directory
    /// was away (a restart or a stall) since `now`.
    private func graceFloor(timeMax: Duration, from now: Instant) -> Instant {
        now + max(timeMax, settings.reconnectWindow) + settings.agentTimeout
    }

    private func deadline(_ lease: Lease, disconnectedAt since: Instant) -> Instant {
        let due = since + settings.agentTimeout
        guard let floor = lease.notBefore else { return due }
        return max(due, floor)
    }

    private func timer() -> [AgentLivenessDirective] {
        nextDeadline.map { [.armTimer(at: $0)] } ?? []
    }
}
