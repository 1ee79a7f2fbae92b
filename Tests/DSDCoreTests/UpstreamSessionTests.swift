import DSDTestSupport
import Testing

@testable import DSDCore

/// `UpstreamSession`: the transition table over every state and event, then resume, failure
/// reasons, logging and backoff numbers. Properties over random runs are in
/// `UpstreamSessionPropertyTests`.
@Suite struct UpstreamSessionTests {
    typealias Session = UpstreamSession<String>
    typealias State = Session.State
    typealias Directive = Session.Directive

    /// Three servers, 100 ms doubling to 1 s; a random fraction of 0.5 leaves delays unjittered.
    static let settings = Session.Settings(
        servers: 3, reconnectMin: .milliseconds(100), reconnectMax: .seconds(1), failureLogInterval: .seconds(30))
    static let cached = Version(epoch: 1, index: 5)

    static func at(_ milliseconds: Int64) -> Instant { Instant.zero + .milliseconds(milliseconds) }

    /// The states of the table, each reached by events from a fresh session.
    enum Given: CaseIterable {
        /// `idle`.
        case idle
        /// `connecting(server: 0, attempt: 1, staleSince: 0 ms)`.
        case connecting
        /// `waiting(server: 1, staleSince: 0 ms)`: attempt 1 failed at 10 ms.
        case waiting
        /// `connected(server: 0, attempt: 1, since: 20 ms)`.
        case connected
        /// `stopped` after a start.
        case stopped
    }

    static func session(_ given: Given) -> Session {
        var session = Session(settings: settings, resume: cached)
        switch given {
        case .idle:
            break
        case .connecting:
            _ = session.onStart(now: at(0))
        case .waiting:
            _ = session.onStart(now: at(0))
            _ = session.onConnectFailed(attempt: 1, failure: "refused", now: at(10), random: 0.5)
        case .connected:
            _ = session.onStart(now: at(0))
            _ = session.onAuthenticated(attempt: 1, now: at(20))
        case .stopped:
            _ = session.onStart(now: at(0))
            _ = session.onStop()
        }
        return session
    }

    /// Every event, at 100 ms with a random fraction of 0.5. Attempt 1 is the given state's
    /// (current or last) attempt, 7 one the session never made.
    enum Event: CaseIterable {
        case start, authenticated, authenticatedStale, connectFailed, connectFailedStale
        case disconnected, disconnectedStale, retryTimer, diverged, stop
    }

    static func apply(_ event: Event, to session: inout Session) -> [Directive] {
        let now = at(100)
        switch event {
        case .start: return session.onStart(now: now)
        case .authenticated: return session.onAuthenticated(attempt: 1, now: now)
        case .authenticatedStale: return session.onAuthenticated(attempt: 7, now: now)
        case .connectFailed: return session.onConnectFailed(attempt: 1, failure: "refused", now: now, random: 0.5)
        case .connectFailedStale:
            return session.onConnectFailed(attempt: 7, failure: "refused", now: now, random: 0.5)
        case .disconnected: return session.onDisconnected(attempt: 1, failure: "closed", now: now, random: 0.5)
        case .disconnectedStale: return session.onDisconnected(attempt: 7, failure: "closed", now: now, random: 0.5)
        case .retryTimer: return session.onRetryTimer(now: now)
        case .diverged: return session.onDiverged()
        case .stop: return session.onStop()
        }
    }

    struct Row {
        var given: Given
        var event: Event
        var state: State
        var directives: [Directive]
    }

    static let connecting = State.connecting(server: 0, attempt: 1, staleSince: at(0))
    static let waiting = State.waiting(server: 1, staleSince: at(0))
    static let connected = State.connected(server: 0, attempt: 1, since: at(20))
    static let shutDown = Directive.failPendingWrites(.shuttingDown)

    static let table: [Row] = [
        Row(given: .idle, event: .start, state: connectingSince(100), directives: [.connect(server: 0, attempt: 1)]),
        Row(given: .idle, event: .authenticated, state: .idle, directives: [.close(attempt: 1)]),
        Row(given: .idle, event: .authenticatedStale, state: .idle, directives: [.close(attempt: 7)]),
        Row(given: .idle, event: .connectFailed, state: .idle, directives: []),
        Row(given: .idle, event: .connectFailedStale, state: .idle, directives: []),
        Row(given: .idle, event: .disconnected, state: .idle, directives: []),
        Row(given: .idle, event: .disconnectedStale, state: .idle, directives: []),
        Row(given: .idle, event: .retryTimer, state: .idle, directives: []),
        Row(given: .idle, event: .diverged, state: .idle, directives: []),
        Row(given: .idle, event: .stop, state: .stopped, directives: [shutDown]),

        Row(given: .connecting, event: .start, state: connecting, directives: []),
        Row(
            given: .connecting, event: .authenticated, state: .connected(server: 0, attempt: 1, since: at(100)),
            directives: [.announce(attempt: 1), .sync(attempt: 1, from: cached)]),
        Row(given: .connecting, event: .authenticatedStale, state: connecting, directives: [.close(attempt: 7)]),
        Row(
            given: .connecting, event: .connectFailed, state: waiting,
            directives: [.logFailure("refused", suppressed: 0), .scheduleRetry(after: .milliseconds(100))]),
        Row(given: .connecting, event: .connectFailedStale, state: connecting, directives: []),
        Row(
            given: .connecting, event: .disconnected, state: waiting,
            directives: [.logFailure("closed", suppressed: 0), .scheduleRetry(after: .milliseconds(100))]),
        Row(given: .connecting, event: .disconnectedStale, state: connecting, directives: []),
        Row(given: .connecting, event: .retryTimer, state: connecting, directives: []),
        Row(given: .connecting, event: .diverged, state: connecting, directives: []),
        Row(given: .connecting, event: .stop, state: .stopped, directives: [.close(attempt: 1), shutDown]),

        Row(given: .waiting, event: .start, state: waiting, directives: []),
        Row(given: .waiting, event: .authenticated, state: waiting, directives: [.close(attempt: 1)]),
        Row(given: .waiting, event: .authenticatedStale, state: waiting, directives: [.close(attempt: 7)]),
        Row(given: .waiting, event: .connectFailed, state: waiting, directives: []),
        Row(given: .waiting, event: .connectFailedStale, state: waiting, directives: []),
        Row(given: .waiting, event: .disconnected, state: waiting, directives: []),
        Row(given: .waiting, event: .disconnectedStale, state: waiting, directives: []),
        Row(
            given: .waiting, event: .retryTimer, state: .connecting(server: 1, attempt: 2, staleSince: at(0)),
            directives: [.connect(server: 1, attempt: 2)]),
        Row(given: .waiting, event: .diverged, state: waiting, directives: []),
        Row(given: .waiting, event: .stop, state: .stopped, directives: [shutDown]),

        Row(given: .connected, event: .start, state: connected, directives: []),
        Row(given: .connected, event: .authenticated, state: connected, directives: []),
        Row(given: .connected, event: .authenticatedStale, state: connected, directives: [.close(attempt: 7)]),
        Row(given: .connected, event: .connectFailed, state: connected, directives: []),
        Row(given: .connected, event: .connectFailedStale, state: connected, directives: []),
        Row(
            given: .connected, event: .disconnected, state: .waiting(server: 1, staleSince: at(100)),
            directives: [
                .logLost(server: 0), .failPendingWrites(.connectionLost), .scheduleRetry(after: .milliseconds(100)),
            ]),
        Row(given: .connected, event: .disconnectedStale, state: connected, directives: []),
        Row(given: .connected, event: .retryTimer, state: connected, directives: []),
        Row(given: .connected, event: .diverged, state: connected, directives: [.sync(attempt: 1, from: nil)]),
        Row(given: .connected, event: .stop, state: .stopped, directives: [.close(attempt: 1), shutDown]),

        Row(given: .stopped, event: .start, state: .stopped, directives: []),
        Row(given: .stopped, event: .authenticated, state: .stopped, directives: [.close(attempt: 1)]),
        Row(given: .stopped, event: .authenticatedStale, state: .stopped, directives: [.close(attempt: 7)]),
        Row(given: .stopped, event: .connectFailed, state: .stopped, directives: []),
        Row(given: .stopped, event: .connectFailedStale, state: .stopped, directives: []),
        Row(given: .stopped, event: .disconnected, state: .stopped, directives: []),
        Row(given: .stopped, event: .disconnectedStale, state: .stopped, directives: []),
        Row(given: .stopped, event: .retryTimer, state: .stopped, directives: []),
        Row(given: .stopped, event: .diverged, state: .stopped, directives: []),
        Row(given: .stopped, event: .stop, state: .stopped, directives: []),
    ]

    static func connectingSince(_ milliseconds: Int64) -> State {
        .connecting(server: 0, attempt: 1, staleSince: at(milliseconds))
    }

    @Test func transitionTableCoversEveryStateAndEvent() {
        for given in Given.allCases {
            for event in Event.allCases {
                #expect(
                    Self.table.filter { $0.given == given && $0.event == event }.count == 1, "row \(given) \(event)")
            }
        }
    }

    @Test(arguments: table.indices) func transition(_ index: Int) {
        let row = Self.table[index]
        var session = Self.session(row.given)
        let directives = Self.apply(row.event, to: &session)
        #expect(session.state == row.state, "\(row.given) + \(row.event)")
        #expect(directives == row.directives, "\(row.given) + \(row.event)")
    }

    @Test func theReplicaVersionIsTheResumePoint() {
        var session = Self.session(.connected)
        let later = Version(epoch: 1, index: 9)
        session.onSynced(version: later)
        _ = session.onDisconnected(attempt: 1, failure: "closed", now: Self.at(30), random: 0.5)
        #expect(session.onRetryTimer(now: Self.at(130)) == [.connect(server: 1, attempt: 2)])
        // Another server: a delta from the replica's version all the same.
        #expect(
            session.onAuthenticated(attempt: 2, now: Self.at(140)) == [
                .announce(attempt: 2), .sync(attempt: 2, from: later),
            ])
        // A diverged replica asks for a snapshot now and after a reconnect, until one arrives.
        #expect(session.onDiverged() == [.sync(attempt: 2, from: nil)])
        _ = session.onDisconnected(attempt: 2, failure: "closed", now: Self.at(150), random: 0.5)
        _ = session.onRetryTimer(now: Self.at(250))
        #expect(session.onAuthenticated(attempt: 3, now: Self.at(260)).last == .sync(attempt: 3, from: nil))
    }

    @Test func withoutAReplicaTheFirstSyncAsksForASnapshot() {
        var session = Session(settings: Self.settings, resume: nil)
        _ = session.onStart(now: Self.at(0))
        #expect(
            session.onAuthenticated(attempt: 1, now: Self.at(1)) == [
                .announce(attempt: 1), .sync(attempt: 1, from: nil),
            ])
    }

    @Test func lastFailureStaysUntilAuthenticated() {
        var session = Self.session(.waiting)
        #expect(session.lastFailure == "refused")
        _ = session.onRetryTimer(now: Self.at(100))
        #expect(session.lastFailure == "refused")
        _ = session.onAuthenticated(attempt: 2, now: Self.at(110))
        #expect(session.lastFailure == nil)
        _ = session.onDisconnected(attempt: 2, failure: "silent", now: Self.at(120), random: 0.5)
        #expect(session.lastFailure == "silent")
    }

    @Test func repeatedFailuresAreLoggedOncePerIntervalAndAfreshAfterAConnection() {
        var session = Session(settings: Self.settings, resume: nil)
        _ = session.onStart(now: Self.at(0))
        var logged: [Directive] = []
        for attempt in UInt64(1)...40 {
            let now = Self.at(Int64(attempt) * 1000)
            logged += session.onConnectFailed(attempt: attempt, failure: "refused", now: now, random: 0.5)
                .filter { if case .logFailure = $0 { true } else { false } }
            _ = session.onRetryTimer(now: now)
        }
        // At 1 s, at 31 s (29 left out); the 41st attempt is under way.
        #expect(logged == [.logFailure("refused", suppressed: 0), .logFailure("refused", suppressed: 29)])
        _ = session.onAuthenticated(attempt: 41, now: Self.at(41_000))
        _ = session.onDisconnected(attempt: 41, failure: "closed", now: Self.at(41_001), random: 0.5)
        _ = session.onRetryTimer(now: Self.at(41_100))
        #expect(
            session.onConnectFailed(attempt: 42, failure: "refused", now: Self.at(41_200), random: 0.5).first
                == .logFailure("refused", suppressed: 0))
    }

    @Test func backoffDoublesToTheMaximumAndRestartsAfterAConnection() {
        var session = Self.session(.connecting)
        var delays: [Duration] = []
        for attempt in UInt64(1)...6 {
            for case .scheduleRetry(let delay) in session.onConnectFailed(
                attempt: attempt, failure: "refused", now: Self.at(0), random: 0.5)
            {
                delays.append(delay)
            }
            _ = session.onRetryTimer(now: Self.at(0))
        }
        #expect(delays == [100, 200, 400, 800, 1000, 1000].map { Duration.milliseconds($0) })
        _ = session.onAuthenticated(attempt: 7, now: Self.at(0))
        #expect(
            session.onDisconnected(attempt: 7, failure: "closed", now: Self.at(0), random: 0.5).last
                == .scheduleRetry(after: .milliseconds(100)))
    }
}
