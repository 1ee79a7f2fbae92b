/// The agent's link to the directory (its upstream session) as a pure state machine: which
/// server to connect to, when to try again, what to do once a connection is authenticated and
/// when it is lost. The driver opens connections, runs the retry timer, sends messages and
/// fails writes as the directives say, and reports what happened as events; the time and the
/// random fraction for the jitter come in as parameters.
///
/// ```
///            start                authenticated
///   idle ──────────▶ connecting ─────────────────▶ connected
///                     ▲      │ connect failed          │ disconnected
///         retry timer │      ▼ (next server, backoff)  ▼ (next server, backoff reset)
///                     └── waiting ◀────────────────────┘
///   stop, from any state: stopped (closes the connection, fails waiting writes)
/// ```
///
/// - **Rotation.** Servers are tried in the order given, starting with the first; every
///   failed attempt and every lost link moves on to the next server of the list, so a lost
///   server is left for the next one rather than retried.
/// - **Backoff.** The delay before the next attempt is `ReconnectBackoff`'s, jittered ±50%; it
///   starts again from the minimum once a connection is authenticated, so after the loss of a
///   server the next one is tried after `reconnectMin` ± 50% (25–75 ms by default) and a list
///   of four is gone through well within a second, each agent at its own moment.
/// - **Resume.** The replica's version (`onSynced`) is the resume point on whichever server
///   answers: `.sync(from:)` asks for the changes after it, or for a snapshot when the replica
///   holds nothing or diverged (`onDiverged`).
/// - **Attempts.** Every connection attempt has a number, and events name the attempt they
///   come from. An event of an attempt the session no longer waits for is ignored (the late
///   close of a replaced connection), and an authentication it does not want (after `stop`)
///   is answered with `.close`.
/// - **Why not connected.** `lastFailure` keeps the reason of the last failed attempt or lost
///   link until a connection is authenticated; repeats of one reason are logged once per
///   `failureLogInterval` (`RepeatLimiter`).
public struct UpstreamSession<Failure: Hashable & Sendable>: Sendable {
    public struct Settings: Hashable, Sendable {
        /// Number of servers in the list (at least one); directives name them by index.
        public var servers: Int
        /// First reconnect delay, doubled per failure up to `reconnectMax`, jittered ±50%.
        public var reconnectMin: Duration
        public var reconnectMax: Duration
        /// How often the same failure is logged again while it repeats.
        public var failureLogInterval: Duration

        public init(servers: Int, reconnectMin: Duration, reconnectMax: Duration, failureLogInterval: Duration) {
            precondition(servers > 0, "an upstream session needs at least one server")
            self.servers = servers
            self.reconnectMin = reconnectMin
            self.reconnectMax = reconnectMax
            self.failureLogInterval = failureLogInterval
        }
    }

    public enum State: Hashable, Sendable {
        /// Created, not started.
        case idle
        /// Attempt `attempt` to `server` is under way (connect, then handshake); not connected
        /// since `staleSince`.
        case connecting(server: Int, attempt: UInt64, staleSince: Instant)
        /// The retry timer runs; `server` is tried next. Not connected since `staleSince`.
        case waiting(server: Int, staleSince: Instant)
        /// Attempt `attempt` to `server` is authenticated since `since`.
        case connected(server: Int, attempt: UInt64, since: Instant)
        /// No connection and no further attempt.
        case stopped
    }

    /// Why the writes waiting for the directory fail.
    public enum WriteFailure: Hashable, Sendable {
        /// The connection closed before they were answered: their outcome is unknown.
        case connectionLost
        /// The agent is stopping.
        case shuttingDown
    }

    /// What the driver must do, in order.
    public enum Directive: Hashable, Sendable {
        /// Open a connection to server `server` (connect, then the handshake); its events carry
        /// `attempt`.
        case connect(server: Int, attempt: UInt64)
        /// Call `onRetryTimer` once `after` has passed.
        case scheduleRetry(after: Duration)
        /// Warn that the agent is not connected, and why; `suppressed` repeats of it were left
        /// out since it was last logged.
        case logFailure(Failure, suppressed: Int)
        /// Warn that the authenticated connection to `server` was lost: the replica is served,
        /// marked stale, until a server answers.
        case logLost(server: Int)
        /// Attempt `attempt` is authenticated: announce this host and send every lease.
        case announce(attempt: UInt64)
        /// Ask the directory on attempt `attempt` for the changes after `from` (nil: a snapshot).
        case sync(attempt: UInt64, from: Version?)
        /// Fail every write waiting for the directory's answer.
        case failPendingWrites(WriteFailure)
        /// Close the connection of attempt `attempt`.
        case close(attempt: UInt64)
    }

    public let settings: Settings
    public private(set) var state: State = .idle
    /// The replica's version to resume from; nil when a snapshot is needed.
    public private(set) var resume: Version?
    /// Why the agent is not connected (the last failed attempt or the lost link); nil once a
    /// connection is authenticated.
    public private(set) var lastFailure: Failure?
    private var backoff: ReconnectBackoff
    private var failureLog: RepeatLimiter<Failure>
    private var attempts: UInt64 = 0

    /// A session that will resume from `resume` (the replica loaded from a cache), or ask for
    /// a snapshot when nil.
    public init(settings: Settings, resume: Version?) {
        self.settings = settings
        self.resume = resume
        self.backoff = ReconnectBackoff(minimum: settings.reconnectMin, maximum: settings.reconnectMax)
        self.failureLog = RepeatLimiter(interval: settings.failureLogInterval)
    }

    /// The authenticated attempt, if any.
    public var connectedAttempt: UInt64? {
        guard case .connected(_, let attempt, _) = state else { return nil }
        return attempt
    }

    public var isConnected: Bool { connectedAttempt != nil }

    // MARK: Events

    /// Starts with the first server of the list.
    public mutating func onStart(now: Instant) -> [Directive] {
        switch state {
        case .idle: return connect(server: 0, staleSince: now)
        case .connecting, .waiting, .connected, .stopped: return []
        }
    }

    /// The handshake of `attempt` completed: the directory is authenticated.
    public mutating func onAuthenticated(attempt: UInt64, now: Instant) -> [Directive] {
        switch state {
        case .connecting(let server, attempt, _):
            backoff.onSuccess()
            failureLog.onSuccess()
            lastFailure = nil
            state = .connected(server: server, attempt: attempt, since: now)
            return [.announce(attempt: attempt), .sync(attempt: attempt, from: resume)]
        case .connected(_, attempt, _):
            return []
        case .idle, .connecting, .waiting, .connected, .stopped:
            return [.close(attempt: attempt)]
        }
    }

    /// `attempt` failed before its handshake completed: no connection, a failed handshake, or
    /// closed by the peer during it.
    public mutating func onConnectFailed(attempt: UInt64, failure: Failure, now: Instant, random: Double)
        -> [Directive]
    {
        switch state {
        case .connecting(let server, attempt, let staleSince):
            lastFailure = failure
            var directives: [Directive] = []
            switch failureLog.onFailure(failure, now: now) {
            case .log(let suppressed): directives.append(.logFailure(failure, suppressed: suppressed))
            case .skip: break
            }
            return directives + retry(after: server, staleSince: staleSince, random: random)
        case .idle, .connecting, .waiting, .connected, .stopped:
            return []
        }
    }

    /// The connection of `attempt` closed. Before its handshake completed this is a failed
    /// attempt (`onConnectFailed`); after it, the loss of the server.
    public mutating func onDisconnected(attempt: UInt64, failure: Failure, now: Instant, random: Double)
        -> [Directive]
    {
        switch state {
        case .connecting(_, attempt, _):
            return onConnectFailed(attempt: attempt, failure: failure, now: now, random: random)
        case .connected(let server, attempt, _):
            lastFailure = failure
            return [.logLost(server: server), .failPendingWrites(.connectionLost)]
                + retry(after: server, staleSince: now, random: random)
        case .idle, .connecting, .waiting, .connected, .stopped:
            return []
        }
    }

    /// The timer of the last `.scheduleRetry` fired.
    public mutating func onRetryTimer(now: Instant) -> [Directive] {
        switch state {
        case .waiting(let server, let staleSince): return connect(server: server, staleSince: staleSince)
        case .idle, .connecting, .connected, .stopped: return []
        }
    }

    /// The replica holds the directory's state at `version` (a snapshot or changes applied):
    /// the next connection resumes from there.
    public mutating func onSynced(version: Version) {
        resume = version
    }

    /// A pushed change did not apply to the replica: it diverged and needs a snapshot, on this
    /// connection or the next.
    public mutating func onDiverged() -> [Directive] {
        resume = nil
        guard let attempt = connectedAttempt else { return [] }
        return [.sync(attempt: attempt, from: nil)]
    }

    /// The agent stops: close the connection (or the attempt under way), fail waiting writes,
    /// try nothing more.
    public mutating func onStop() -> [Directive] {
        switch state {
        case .idle, .waiting:
            state = .stopped
            return [.failPendingWrites(.shuttingDown)]
        case .connecting(_, let attempt, _), .connected(_, let attempt, _):
            state = .stopped
            return [.close(attempt: attempt), .failPendingWrites(.shuttingDown)]
        case .stopped:
            return []
        }
    }

    // MARK: Steps

    private mutating func connect(server: Int, staleSince: Instant) -> [Directive] {
        attempts += 1
        state = .connecting(server: server, attempt: attempts, staleSince: staleSince)
        return [.connect(server: server, attempt: attempts)]
    }

    /// Waits for the next server of the list.
    private mutating func retry(after server: Int, staleSince: Instant, random: Double) -> [Directive] {
        state = .waiting(server: (server + 1) % settings.servers, staleSince: staleSince)
        return [.scheduleRetry(after: backoff.onFailure(random: random))]
    }
}
