/// Route liveness (seed "Route Updates", FIG. 4C) as a pure state machine.
///
/// The directory probes every route `HOST.<index>` of every connected host once per
/// `interval`. A probe is *answered* when its reply arrives strictly before
/// `sentAt + replyTimeout`, and *missed* otherwise (found by the first `onTick` or `onReply`
/// at or after that instant; a late reply is still a miss). Each route counts consecutive
/// misses and consecutive answers, and changes health only after `threshold` (K) of them in
/// a row: a valid route becomes invalid after K consecutive misses (`.markInvalid`), an
/// invalid route becomes valid again after K consecutive answers (`.markValid`). One lost
/// datagram therefore never flaps a route, and a route that comes back must prove itself
/// K times before `find` uses it again.
///
/// Only replies to probes this machine recorded as outstanding count: a reply with a
/// sequence number never sent, already answered or already counted as missed changes
/// nothing, so a replayed reply cannot keep a dead route alive.
///
/// The driver calls `onTick` every `interval` (before sending that round's probes, with
/// `onProbeSent` for each) and once more at `nextDeadline`, so a miss is noticed
/// `replyTimeout` after the probe left rather than a full interval later.
public struct RouteLiveness: Sendable {
    public struct Settings: Hashable, Sendable {
        /// Time between two probes of the same route.
        public var interval: Duration
        /// K: consecutive misses that make a valid route invalid, and consecutive answers that
        /// make an invalid route valid again.
        public var threshold: Int
        /// A probe not answered within this time after it was sent is missed.
        public var replyTimeout: Duration

        public init(interval: Duration, threshold: Int, replyTimeout: Duration) {
            self.interval = interval
            self.threshold = max(1, threshold)
            self.replyTimeout = replyTimeout
        }

        /// Probes every `interval`, `threshold` in a row decide, a reply is due within half an
        /// interval.
        public static func every(_ interval: Duration, threshold: Int) -> Settings {
            Settings(interval: interval, threshold: threshold, replyTimeout: interval / 2)
        }

        /// 100 ms and K = 3: a dead link is noticed within about 3 × 100 ms (the product's
        /// "well under a second") while one or two lost datagrams never flap a route. A reply
        /// is due within 50 ms: LAN round trips are below a millisecond, so a reply that late
        /// is as good as lost, and waiting half an interval instead of a whole one takes 50 ms
        /// off every detection. Ten datagrams a second per route cost nothing on a LAN.
        public static let `default` = Settings.every(.milliseconds(100), threshold: 3)
        /// Fast timers for tests with real sockets.
        public static let testing = Settings.every(.milliseconds(20), threshold: 3)
    }

    /// One route: `DSD_HOST_ROUTE` key `<host>.<index>`.
    public struct RouteID: Hashable, Comparable, Sendable, CustomStringConvertible {
        public var host: String
        public var index: UInt32

        public init(host: String, index: UInt32) {
            self.host = host
            self.index = index
        }

        /// The route's key in `DSD_HOST_ROUTE`.
        public var key: String { "\(host).\(index)" }
        public var description: String { key }

        public static func < (lhs: RouteID, rhs: RouteID) -> Bool {
            lhs.host != rhs.host ? ExactKey(lhs.host) < ExactKey(rhs.host) : lhs.index < rhs.index
        }
    }

    public enum Health: Hashable, Sendable {
        case valid
        case invalid
    }

    /// What the driver must do: commit the route's new validity.
    public enum Directive: Hashable, Sendable {
        case markInvalid(RouteID)
        case markValid(RouteID)
    }

    struct RouteState: Sendable {
        var health: Health
        var misses = 0
        var answers = 0
        /// Probes sent and not yet answered or missed: sequence number → time sent.
        var outstanding: [UInt64: Instant] = [:]
    }

    public let settings: Settings
    private var states: [RouteID: RouteState] = [:]

    public init(settings: Settings = .default) { self.settings = settings }

    // MARK: Queries

    /// The routes being probed, in key order.
    public var routes: [RouteID] { states.keys.sorted() }

    public func health(of route: RouteID) -> Health? { states[route]?.health }

    /// Consecutive misses (or answers) counted towards the next change of health.
    public func counters(of route: RouteID) -> (misses: Int, answers: Int)? {
        states[route].map { ($0.misses, $0.answers) }
    }

    /// The earliest instant at which an outstanding probe becomes missed.
    public var nextDeadline: Instant? {
        states.values.lazy.flatMap(\.outstanding.values).min().map { $0 + settings.replyTimeout }
    }

    // MARK: Events

    /// A host announced its routes (after connecting, or again after reconnecting): exactly
    /// these indices are probed from now on, each starting from the health the directory's
    /// table holds for it. A route already probed with that same health keeps its counters;
    /// routes of the host no longer announced are forgotten.
    public mutating func onRoutesAnnounced(host: String, _ routes: [UInt32: Health], now: Instant) {
        for route in states.keys where route.host == host && routes[route.index] == nil {
            states[route] = nil
        }
        for (index, health) in routes {
            let route = RouteID(host: host, index: index)
            if states[route]?.health != health { states[route] = RouteState(health: health) }
        }
    }

    /// The host's agent is gone: stop probing its routes. Their table entries stay as they
    /// are (the agent's absence is not evidence about the links).
    public mutating func onHostGone(_ host: String, now: Instant) {
        for route in states.keys where route.host == host { states[route] = nil }
    }

    /// A probe with sequence number `seq` left for `route`.
    public mutating func onProbeSent(_ route: RouteID, seq: UInt64, now: Instant) {
        states[route]?.outstanding[seq] = now
    }

    /// An authenticated reply to probe `seq` arrived over `route`.
    public mutating func onReply(_ route: RouteID, seq: UInt64, now: Instant) -> [Directive] {
        guard var state = states[route] else { return [] }
        var directives = expire(route, &state, now: now)
        if state.outstanding.removeValue(forKey: seq) != nil {
            state.misses = 0
            state.answers += 1
            if state.health == .invalid, state.answers >= settings.threshold {
                state.health = .valid
                state.answers = 0
                directives.append(.markValid(route))
            }
        }
        states[route] = state
        return directives
    }

    /// Time passed: every probe whose reply is overdue counts as missed.
    public mutating func onTick(now: Instant) -> [Directive] {
        var directives: [Directive] = []
        for route in routes {
            guard var state = states[route] else { continue }
            directives += expire(route, &state, now: now)
            states[route] = state
        }
        return directives
    }

    private func expire(_ route: RouteID, _ state: inout RouteState, now: Instant) -> [Directive] {
        let overdue = state.outstanding.filter { now >= $0.value + settings.replyTimeout }.keys.sorted()
        var directives: [Directive] = []
        for seq in overdue {
            state.outstanding[seq] = nil
            state.answers = 0
            state.misses += 1
            if state.health == .valid, state.misses >= settings.threshold {
                state.health = .invalid
                state.misses = 0
                directives.append(.markInvalid(route))
            }
        }
        return directives
    }
}
