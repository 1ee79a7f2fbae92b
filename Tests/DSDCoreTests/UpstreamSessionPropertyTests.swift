import DSDTestSupport
import Testing

@testable import DSDCore

/// Properties of `UpstreamSession` over random runs against servers that refuse, accept, drop
/// and diverge at random: rotation, delay bounds, one attempt at a time, failover time, stop.
@Suite struct UpstreamSessionPropertyTests {
    typealias Session = UpstreamSession<String>
    typealias Directive = Session.Directive

    /// The agent's defaults (`AgentSettings`): 50 ms doubling to 2 s.
    static func settings(servers: Int) -> Session.Settings {
        Session.Settings(
            servers: servers, reconnectMin: .milliseconds(50), reconnectMax: .seconds(2),
            failureLogInterval: .seconds(30))
    }

    /// A driver that carries out directives against a random world, checking each one.
    struct Run {
        var session: Session
        var rng: SplitMix64
        var now = Instant.zero
        /// The attempt under way and its server, as the directives said.
        var inFlight: (attempt: UInt64, server: Int)?
        var connected: UInt64?
        var retryArmed = false
        var lastServer: Int?
        var connects = 0
        /// Authenticated since the last delay was chosen.
        var freshlyConnected = false

        init(servers: Int, seed: UInt64) {
            session = Session(settings: UpstreamSessionPropertyTests.settings(servers: servers), resume: nil)
            rng = SplitMix64(seed: seed)
        }

        mutating func random() -> Double { Double(rng.next() >> 11) / Double(UInt64(1) << 53) }

        mutating func carry(_ directives: [Directive]) {
            let settings = session.settings
            for directive in directives {
                switch directive {
                case .connect(let server, let attempt):
                    #expect(inFlight == nil && connected == nil && !retryArmed, "one attempt at a time")
                    #expect(server == lastServer.map { ($0 + 1) % settings.servers } ?? 0, "rotation")
                    inFlight = (attempt, server)
                    lastServer = server
                    connects += 1
                case .scheduleRetry(let delay):
                    #expect(delay >= settings.reconnectMin / 2 && delay < settings.reconnectMax * 1.5, "\(delay)")
                    if freshlyConnected { #expect(delay < settings.reconnectMin * 1.5, "failover delay \(delay)") }
                    freshlyConnected = false
                    retryArmed = true
                    inFlight = nil
                    connected = nil
                case .announce(let attempt):
                    #expect(attempt == inFlight?.attempt)
                    connected = attempt
                    inFlight = nil
                    freshlyConnected = true
                case .sync(let attempt, _):
                    #expect(attempt == connected)
                case .close, .logFailure, .logLost, .failPendingWrites:
                    break
                }
            }
        }

        /// One event the world could send now.
        mutating func step() {
            now = now + .milliseconds(Int64(rng.next() % 200))
            let roll = rng.next() % 10
            if let (attempt, _) = inFlight {
                switch roll {
                case 0..<4: carry(session.onAuthenticated(attempt: attempt, now: now))
                case 4..<7:
                    carry(session.onConnectFailed(attempt: attempt, failure: "refused", now: now, random: random()))
                default:
                    carry(session.onDisconnected(attempt: attempt, failure: "handshake", now: now, random: random()))
                }
            } else if let attempt = connected {
                switch roll {
                case 0..<4:
                    carry(session.onDisconnected(attempt: attempt, failure: "closed", now: now, random: random()))
                case 4: carry(session.onDiverged())
                case 5: carry(session.onAuthenticated(attempt: attempt + 1, now: now))
                default: session.onSynced(version: Version(epoch: 1, index: rng.next() % 1000))
                }
            } else if retryArmed {
                retryArmed = false
                carry(session.onRetryTimer(now: now))
            }
        }
    }

    @Test(arguments: [1, 2, 3, 5])
    func serversAreTriedInRotationOneAttemptAtATimeWithinTheDelayBounds(servers: Int) {
        for seed in UInt64(0)..<50 {
            var run = Run(servers: servers, seed: seed)
            run.carry(run.session.onStart(now: run.now))
            for _ in 0..<300 { run.step() }
            #expect(run.connects > 1)
        }
    }

    @Test func stopFromAnyStateEndsInStoppedWithNoFurtherConnects() {
        for seed in UInt64(0)..<200 {
            var run = Run(servers: 3, seed: seed)
            run.carry(run.session.onStart(now: run.now))
            for _ in 0..<(run.rng.next() % 40) { run.step() }
            let before = run.session.state
            let stop = run.session.onStop()
            #expect(run.session.state == .stopped)
            #expect(stop.last == .failPendingWrites(.shuttingDown), "\(before)")
            // Whatever arrives afterwards, only closes come back.
            for _ in 0..<50 {
                let attempt = run.rng.next() % 50
                let now = run.now + .seconds(1)
                let directives: [Directive]
                switch run.rng.next() % 7 {
                case 0: directives = run.session.onStart(now: now)
                case 1: directives = run.session.onAuthenticated(attempt: attempt, now: now)
                case 2: directives = run.session.onConnectFailed(attempt: attempt, failure: "x", now: now, random: 0.3)
                case 3: directives = run.session.onDisconnected(attempt: attempt, failure: "x", now: now, random: 0.3)
                case 4: directives = run.session.onRetryTimer(now: now)
                case 5: directives = run.session.onDiverged()
                default: directives = run.session.onStop()
                }
                #expect(directives.allSatisfy { $0 == .close(attempt: attempt) }, "\(directives)")
                #expect(run.session.state == .stopped)
            }
        }
    }

    /// The issue's failover bound: after the loss of its server, an agent has tried every other
    /// server of a list of up to four within a second, however the jitter falls.
    @Test(arguments: [2, 3, 4])
    func aLostServerIsLeftForTheOthersWithinASecond(servers: Int) {
        for random in [0.0, 0.5, 0.999_999] {
            var session = Session(settings: Self.settings(servers: servers), resume: Version(epoch: 1, index: 1))
            _ = session.onStart(now: .zero)
            _ = session.onAuthenticated(attempt: 1, now: .zero)
            var now = Instant.zero + .seconds(10)
            var delay = Self.delay(session.onDisconnected(attempt: 1, failure: "closed", now: now, random: random))
            var tried: [Int] = []
            for attempt in UInt64(2)...UInt64(servers) {
                now = now + delay
                guard case .connect(let server, attempt)? = session.onRetryTimer(now: now).first else {
                    Issue.record("no connect for attempt \(attempt)")
                    return
                }
                tried.append(server)
                if attempt < servers {
                    delay = Self.delay(
                        session.onConnectFailed(attempt: attempt, failure: "refused", now: now, random: random))
                }
            }
            #expect(tried == Array(1..<servers))
            #expect(now - (Instant.zero + .seconds(10)) < .seconds(1), "\(servers) servers, random \(random)")
        }
    }

    static func delay(_ directives: [Directive]) -> Duration {
        for case .scheduleRetry(let delay) in directives { return delay }
        Issue.record("no retry in \(directives)")
        return .zero
    }
}
