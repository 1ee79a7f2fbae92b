import DSDCore
import Testing

/// Transition table of `RouteLiveness`: each test drives rounds of probes with explicit
/// instants (interval 100 ms, reply due within 50 ms, K = 3 unless stated).
@Suite struct RouteLivenessTests {
    typealias RouteID = RouteLiveness.RouteID
    let r0 = RouteID(host: "HOST1", index: 0)
    let r1 = RouteID(host: "HOST1", index: 1)

    func ms(_ value: Int64) -> Instant { Instant.zero + .milliseconds(value) }

    /// A machine probing HOST1's routes 0 and 1, both starting valid.
    func machine(_ settings: RouteLiveness.Settings = .default) -> RouteLiveness {
        var machine = RouteLiveness(settings: settings)
        machine.onRoutesAnnounced(host: "HOST1", [0: .valid, 1: .valid], now: ms(0))
        return machine
    }

    /// One round as the driver runs it: tick, send to every route, then (if `answered`
    /// contains the route) its reply `rtt` later. Returns every directive of the round.
    func round(
        _ machine: inout RouteLiveness, at time: Int64, seq: inout UInt64, answered: Set<RouteID>,
        rtt: Int64 = 1
    ) -> [RouteLiveness.Directive] {
        var directives = machine.onTick(now: ms(time))
        var sent: [(RouteID, UInt64)] = []
        for route in machine.routes {
            seq += 1
            machine.onProbeSent(route, seq: seq, now: ms(time))
            sent.append((route, seq))
        }
        for (route, number) in sent where answered.contains(route) {
            directives += machine.onReply(route, seq: number, now: ms(time + rtt))
        }
        return directives
    }

    @Test func settingsDefaults() {
        #expect(RouteLiveness.Settings.default.interval == .milliseconds(100))
        #expect(RouteLiveness.Settings.default.threshold == 3)
        #expect(RouteLiveness.Settings.default.replyTimeout == .milliseconds(50))
        #expect(RouteLiveness.Settings.testing.interval < RouteLiveness.Settings.default.interval)
        #expect(RouteLiveness.Settings(interval: .seconds(1), threshold: 0, replyTimeout: .seconds(1)).threshold == 1)
    }

    @Test func answeredProbesKeepARouteValid() {
        var machine = machine()
        var seq: UInt64 = 0
        for t in stride(from: Int64(0), through: 2000, by: 100) {
            #expect(round(&machine, at: t, seq: &seq, answered: [r0, r1]).isEmpty)
        }
        #expect(machine.health(of: r0) == .valid)
        #expect(machine.counters(of: r0)?.misses == 0)
    }

    @Test func kConsecutiveMissesMarkInvalidExactlyOnce() {
        var machine = machine()
        var seq: UInt64 = 0
        #expect(round(&machine, at: 0, seq: &seq, answered: [r0, r1]).isEmpty)
        // Route 0 stops answering at t = 100: misses are found at 150, 250, 350.
        #expect(round(&machine, at: 100, seq: &seq, answered: [r1]).isEmpty)
        #expect(machine.onTick(now: ms(150)).isEmpty)
        #expect(machine.counters(of: r0)?.misses == 1)
        #expect(round(&machine, at: 200, seq: &seq, answered: [r1]).isEmpty)
        #expect(machine.onTick(now: ms(250)).isEmpty)
        #expect(machine.counters(of: r0)?.misses == 2)
        #expect(round(&machine, at: 300, seq: &seq, answered: [r1]).isEmpty)
        #expect(machine.onTick(now: ms(350)) == [.markInvalid(r0)])
        #expect(machine.health(of: r0) == .invalid)
        #expect(machine.health(of: r1) == .valid)
        // Further misses change nothing.
        for t in stride(from: Int64(400), through: 1000, by: 100) {
            #expect(round(&machine, at: t, seq: &seq, answered: [r1]).isEmpty)
            #expect(machine.onTick(now: ms(t + 50)).isEmpty)
        }
    }

    @Test func withoutDeadlineTicksTheNextRoundFindsTheMiss() {
        // A driver that only ticks once per interval: a miss is found one interval later.
        var machine = machine()
        var seq: UInt64 = 0
        var directives: [RouteLiveness.Directive] = []
        var invalidAt: Int64?
        for t in stride(from: Int64(0), through: 600, by: 100) {
            directives = round(&machine, at: t, seq: &seq, answered: t == 0 ? [r0, r1] : [r1])
            if directives == [.markInvalid(r0)], invalidAt == nil { invalidAt = t }
        }
        #expect(invalidAt == 400)
    }

    @Test func aSingleLossNeverFlaps() {
        var machine = machine()
        var seq: UInt64 = 0
        // Every third probe of route 0 is lost: never K = 3 in a row.
        for (i, t) in stride(from: Int64(0), through: 3000, by: 100).enumerated() {
            let answered: Set<RouteID> = i % 3 == 2 ? [r1] : [r0, r1]
            #expect(round(&machine, at: t, seq: &seq, answered: answered).isEmpty)
            #expect(machine.onTick(now: ms(t + 50)).isEmpty)
        }
        #expect(machine.health(of: r0) == .valid)
        // Two losses in a row are still fine.
        var again = self.machine()
        for (i, t) in stride(from: Int64(0), through: 3000, by: 100).enumerated() {
            let answered: Set<RouteID> = i % 3 == 0 ? [r0, r1] : [r1]
            #expect(round(&again, at: t, seq: &seq, answered: answered).isEmpty)
            #expect(again.onTick(now: ms(t + 50)).isEmpty)
        }
    }

    @Test func kConsecutiveAnswersMarkValidAgain() {
        var machine = RouteLiveness(settings: .default)
        machine.onRoutesAnnounced(host: "HOST1", [0: .invalid], now: ms(0))
        var seq: UInt64 = 0
        #expect(round(&machine, at: 0, seq: &seq, answered: [r0]).isEmpty)
        #expect(round(&machine, at: 100, seq: &seq, answered: [r0]).isEmpty)
        #expect(machine.counters(of: r0)?.answers == 2)
        #expect(round(&machine, at: 200, seq: &seq, answered: [r0]) == [.markValid(r0)])
        #expect(machine.health(of: r0) == .valid)
        #expect(round(&machine, at: 300, seq: &seq, answered: [r0]).isEmpty)
    }

    @Test func oneMissAmongAnswersRestartsTheCountBothWays() {
        // Invalid route: answer, answer, miss, answer, answer → still invalid; one more → valid.
        var machine = RouteLiveness(settings: .default)
        machine.onRoutesAnnounced(host: "HOST1", [0: .invalid], now: ms(0))
        var seq: UInt64 = 0
        let pattern = [true, true, false, true, true]
        for (i, answered) in pattern.enumerated() {
            let t = Int64(i) * 100
            #expect(round(&machine, at: t, seq: &seq, answered: answered ? [r0] : []).isEmpty)
            #expect(machine.onTick(now: ms(t + 50)).isEmpty)
        }
        #expect(machine.health(of: r0) == .invalid)
        #expect(round(&machine, at: 500, seq: &seq, answered: [r0]) == [.markValid(r0)])
        // Valid route: miss, miss, answer, miss, miss → still valid; one more miss → invalid.
        let misses = [false, false, true, false, false]
        for (i, answered) in misses.enumerated() {
            let t = 600 + Int64(i) * 100
            #expect(round(&machine, at: t, seq: &seq, answered: answered ? [r0] : []).isEmpty)
            #expect(machine.onTick(now: ms(t + 50)).isEmpty)
        }
        #expect(machine.health(of: r0) == .valid)
        _ = round(&machine, at: 1100, seq: &seq, answered: [])
        #expect(machine.onTick(now: ms(1150)) == [.markInvalid(r0)])
    }

    @Test func replyDeadlineIsExclusive() {
        var machine = RouteLiveness(settings: .every(.milliseconds(100), threshold: 1))
        machine.onRoutesAnnounced(host: "HOST1", [0: .valid], now: ms(0))
        machine.onProbeSent(r0, seq: 1, now: ms(0))
        #expect(machine.nextDeadline == ms(50))
        // One nanosecond before the deadline nothing is missed, and the reply then counts.
        #expect(machine.onTick(now: ms(50) + .nanoseconds(-1)).isEmpty)
        #expect(machine.onReply(r0, seq: 1, now: ms(50) + .nanoseconds(-1)).isEmpty)
        #expect(machine.health(of: r0) == .valid)
        // Exactly at the deadline the probe is missed.
        machine.onProbeSent(r0, seq: 2, now: ms(100))
        #expect(machine.onTick(now: ms(150)) == [.markInvalid(r0)])
        #expect(machine.nextDeadline == nil)
    }

    @Test func aReplyAtTheDeadlineIsLateAndCountsAsAMiss() {
        var machine = RouteLiveness(settings: .every(.milliseconds(100), threshold: 1))
        machine.onRoutesAnnounced(host: "HOST1", [0: .valid], now: ms(0))
        machine.onProbeSent(r0, seq: 1, now: ms(0))
        #expect(machine.onReply(r0, seq: 1, now: ms(50)) == [.markInvalid(r0)])
    }

    @Test func repliesThatWereNeverAskedForChangeNothing() {
        var machine = RouteLiveness(settings: .default)
        machine.onRoutesAnnounced(host: "HOST1", [0: .invalid], now: ms(0))
        machine.onProbeSent(r0, seq: 7, now: ms(0))
        // Unknown sequence numbers, a replay of an answered one, an unknown route or host.
        for _ in 0..<5 { #expect(machine.onReply(r0, seq: 99, now: ms(1)).isEmpty) }
        #expect(machine.onReply(r0, seq: 7, now: ms(2)).isEmpty)
        for _ in 0..<5 { #expect(machine.onReply(r0, seq: 7, now: ms(3)).isEmpty) }
        #expect(machine.onReply(r1, seq: 7, now: ms(3)).isEmpty)
        #expect(machine.onReply(RouteID(host: "HOST2", index: 0), seq: 7, now: ms(3)).isEmpty)
        #expect(machine.counters(of: r0)?.answers == 1)
        #expect(machine.health(of: r0) == .invalid)
    }

    @Test func aReplyAfterTheMissWasCountedIsIgnored() {
        var machine = machine()
        machine.onProbeSent(r0, seq: 1, now: ms(0))
        _ = machine.onTick(now: ms(60))
        #expect(machine.counters(of: r0)?.misses == 1)
        #expect(machine.onReply(r0, seq: 1, now: ms(61)).isEmpty)
        #expect(machine.counters(of: r0)?.misses == 1)
        #expect(machine.counters(of: r0)?.answers == 0)
    }

    @Test func announceStartsFromTheTablesHealthAndForgetsDroppedRoutes() {
        var machine = machine()
        var seq: UInt64 = 0
        _ = round(&machine, at: 0, seq: &seq, answered: [r1])
        _ = machine.onTick(now: ms(50))
        #expect(machine.counters(of: r0)?.misses == 1)
        // Re-announced with the same health: counters kept. Route 1 no longer announced.
        machine.onRoutesAnnounced(host: "HOST1", [0: .valid], now: ms(60))
        #expect(machine.routes == [r0])
        #expect(machine.counters(of: r0)?.misses == 1)
        // Re-announced as invalid (the table says so): starts over from invalid.
        machine.onRoutesAnnounced(host: "HOST1", [0: .invalid], now: ms(70))
        #expect(machine.health(of: r0) == .invalid)
        #expect(machine.counters(of: r0)?.misses == 0)
    }

    @Test func hostGoneStopsProbingOnlyThatHost() {
        var machine = machine()
        machine.onRoutesAnnounced(host: "HOST10", [0: .valid], now: ms(0))
        machine.onProbeSent(r0, seq: 1, now: ms(0))
        machine.onHostGone("HOST1", now: ms(1))
        #expect(machine.routes == [RouteID(host: "HOST10", index: 0)])
        #expect(machine.health(of: r0) == nil)
        #expect(machine.onTick(now: ms(1000)).isEmpty)
        machine.onProbeSent(r0, seq: 2, now: ms(1000))
        #expect(machine.nextDeadline == nil)
    }

    @Test func directivesOfOneTickComeInRouteOrder() {
        var machine = RouteLiveness(settings: .every(.milliseconds(100), threshold: 1))
        machine.onRoutesAnnounced(host: "HOST2", [1: .valid, 0: .valid], now: ms(0))
        machine.onRoutesAnnounced(host: "HOST1", [0: .valid], now: ms(0))
        var seq: UInt64 = 0
        for route in machine.routes {
            seq += 1
            machine.onProbeSent(route, seq: seq, now: ms(0))
        }
        #expect(
            machine.onTick(now: ms(50)) == [
                .markInvalid(r0), .markInvalid(RouteID(host: "HOST2", index: 0)),
                .markInvalid(RouteID(host: "HOST2", index: 1)),
            ])
    }

    @Test func routeKeyIsTheHostRouteTableKey() {
        #expect(RouteID(host: "HOST9", index: 2).key == "HOST9.2")
        #expect(RouteID(host: "HOST9", index: 2) < RouteID(host: "HOST9", index: 10))
    }
}
