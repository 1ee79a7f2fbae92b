import DSDTestSupport
import Testing

@testable import DSDCore

@Suite struct HeartbeatTrackerTests {
    let table = StandardTable.metadata.id

    func at(_ seconds: Double) -> Instant { Instant.zero + .milliseconds(Int64(seconds * 1000)) }

    @Test func expiresExactlyAtTheBoundNotBefore() {
        var tracker = HeartbeatTracker(settings: .testing)
        #expect(
            tracker.onTouch(
                table: table, key: "MDS.6", timeMax: .seconds(3), currentlyValid: true, now: at(1)
            ).isEmpty)
        #expect(tracker.nextDeadline == at(4))
        #expect(tracker.onTick(now: at(4) + .nanoseconds(-1)).isEmpty)
        #expect(tracker.onTick(now: at(4)) == [.markInvalid(table, key: "MDS.6")])
        #expect(tracker.nextDeadline == nil)
        #expect(tracker.onTick(now: at(10)).isEmpty)
    }

    @Test func renewalMovesTheDeadline() {
        var tracker = HeartbeatTracker(settings: .testing)
        _ = tracker.onTouch(
            table: table, key: "k", timeMax: .seconds(3), currentlyValid: true, now: at(0))
        _ = tracker.onTouch(
            table: table, key: "k", timeMax: nil, currentlyValid: true, now: at(2.5))
        #expect(tracker.onTick(now: at(3)).isEmpty)
        #expect(tracker.deadline(table: table, key: "k") == at(5.5))
        #expect(tracker.onTick(now: at(5.5)) == [.markInvalid(table, key: "k")])
    }

    @Test func plainTouchReusesLastTimeMaxEvenAfterExpiry() {
        var tracker = HeartbeatTracker(settings: .testing)
        _ = tracker.onTouch(
            table: table, key: "k", timeMax: .seconds(2), currentlyValid: true, now: at(0))
        #expect(tracker.onTick(now: at(2)).count == 1)
        // The entry is invalid now; a plain touch makes it valid with the same Time_Max.
        #expect(
            tracker.onTouch(table: table, key: "k", timeMax: nil, currentlyValid: false, now: at(7))
                == [.markValid(table, key: "k")])
        #expect(tracker.deadline(table: table, key: "k") == at(9))
        #expect(tracker.timeMax(table: table, key: "k") == .seconds(2))
    }

    @Test func firstPlainTouchUsesDefault() {
        var tracker = HeartbeatTracker(
            settings: HeartbeatTracker.Settings(defaultTimeMax: .seconds(5)))
        _ = tracker.onTouch(table: table, key: "k", timeMax: nil, currentlyValid: true, now: at(1))
        #expect(tracker.deadline(table: table, key: "k") == at(6))
    }

    @Test func ticksExpireInDeadlineOrder() {
        var tracker = HeartbeatTracker(settings: .testing)
        var rng = SplitMix64(seed: 9)
        var expected: [(Instant, String)] = []
        for i in 0..<200 {
            let period = Duration.milliseconds(Int64(rng.next() % 10_000) + 1)
            _ = tracker.onTouch(
                table: table, key: "k\(i)", timeMax: period, currentlyValid: true, now: at(0))
            expected.append((at(0) + period, "k\(i)"))
        }
        // Remove a few and renew a few before anything expires.
        for i in stride(from: 0, to: 200, by: 10) {
            tracker.onRemove(table: table, key: "k\(i)")
            expected.removeAll { $0.1 == "k\(i)" }
        }
        #expect(tracker.armedCount == 180)
        var fired: [HeartbeatDirective] = []
        var now = at(0)
        while let next = tracker.nextDeadline {
            now = next
            fired += tracker.onTick(now: now)
        }
        #expect(fired.count == 180)
        let firedKeys = fired.map { directive -> String in
            guard case .markInvalid(_, let key) = directive else { return "" }
            return key
        }
        let deadlines = firedKeys.map { key in expected.first { $0.1 == key }!.0 }
        #expect(deadlines == deadlines.sorted())
        #expect(Set(firedKeys) == Set(expected.map(\.1)))
    }

    @Test func removeForgetsTimeMax() {
        var tracker = HeartbeatTracker(
            settings: HeartbeatTracker.Settings(defaultTimeMax: .seconds(1)))
        _ = tracker.onTouch(
            table: table, key: "k", timeMax: .seconds(9), currentlyValid: true, now: at(0))
        tracker.onRemove(table: table, key: "k")
        #expect(tracker.onTick(now: at(100)).isEmpty)
        #expect(tracker.timeMax(table: table, key: "k") == .seconds(1))
    }

    @Test func removeTableForgetsItsEntries() {
        var tracker = HeartbeatTracker(settings: .testing)
        let other = StandardTable.gateway.id
        _ = tracker.onTouch(
            table: table, key: "a", timeMax: .seconds(1), currentlyValid: true, now: at(0))
        _ = tracker.onTouch(
            table: other, key: "a", timeMax: .seconds(1), currentlyValid: true, now: at(0))
        tracker.onRemoveTable(table)
        #expect(tracker.onTick(now: at(1)) == [.markInvalid(other, key: "a")])
    }

    @Test func extendAllGivesGraceAfterTakeover() {
        var tracker = HeartbeatTracker(settings: .testing)
        _ = tracker.onTouch(
            table: table, key: "soon", timeMax: .seconds(1), currentlyValid: true, now: at(0))
        _ = tracker.onTouch(
            table: table, key: "late", timeMax: .seconds(60), currentlyValid: true, now: at(0))
        _ = tracker.onTouch(
            table: table, key: "gone", timeMax: .seconds(1), currentlyValid: true, now: at(0))
        tracker.onRemove(table: table, key: "gone")
        tracker.extendAll(by: .seconds(2), now: at(0.5))
        #expect(tracker.deadline(table: table, key: "soon") == at(3.5))
        #expect(tracker.deadline(table: table, key: "late") == at(62.5))
        #expect(tracker.onTick(now: at(3.4)).isEmpty)
        #expect(tracker.onTick(now: at(3.5)) == [.markInvalid(table, key: "soon")])
    }

    @Test func extendAllDoesNotReviveExpiredEntries() {
        var tracker = HeartbeatTracker(settings: .testing)
        _ = tracker.onTouch(
            table: table, key: "k", timeMax: .seconds(1), currentlyValid: true, now: at(0))
        _ = tracker.onTick(now: at(1))
        tracker.extendAll(by: .seconds(5), now: at(2))
        #expect(tracker.nextDeadline == nil)
    }

    @Test func instantArithmeticSaturates() {
        #expect(Instant(nanoseconds: .max) + .seconds(1) == Instant(nanoseconds: .max))
        #expect(Instant(nanoseconds: 5) + .seconds(-1) == .zero)
        #expect(
            Instant(nanoseconds: 3_000_000_000) - Instant(nanoseconds: 1_000_000_000) == .seconds(2)
        )
        #expect(Instant(nanoseconds: 1) - Instant(nanoseconds: 3) == .nanoseconds(-2))
        #expect(Instant.zero + .milliseconds(1500) == Instant(nanoseconds: 1_500_000_000))
    }

    enum Event {
        case touch(String, timeMax: Duration?, valid: Bool)
        case tick
        case remove(String)
        case extend(Duration)
    }

    /// The machine's transitions, one row per event: (event, at second, directives, next
    /// deadline afterwards).
    @Test func transitionTable() {
        let rows: [(Event, Double, [HeartbeatDirective], Double?)] = [
            (.tick, 0, [], nil),
            (.touch("a", timeMax: .seconds(2), valid: false), 0, [.markValid(table, key: "a")], 2),
            (.touch("b", timeMax: nil, valid: true), 0, [], 0.1),  // default Time_Max (.testing)
            (.tick, 0.09, [], 0.1),
            (.tick, 0.1, [.markInvalid(table, key: "b")], 2),
            (.touch("a", timeMax: nil, valid: true), 1, [], 3),  // renewal reuses 2 s
            (.tick, 2, [], 3),  // the old deadline no longer counts
            (.touch("b", timeMax: nil, valid: false), 2, [.markValid(table, key: "b")], 2.1),
            (.remove("b"), 2, [], 3),
            (.tick, 2.5, [], 3),
            (.extend(.seconds(1)), 2.5, [], 5.5),
            (.tick, 5.5, [.markInvalid(table, key: "a")], nil),
            (.touch("a", timeMax: .seconds(1), valid: false), 6, [.markValid(table, key: "a")], 7),
            (.remove("a"), 6, [], nil),
        ]
        var tracker = HeartbeatTracker(settings: .testing)
        for (index, row) in rows.enumerated() {
            let (event, second, expected, next) = row
            let now = at(second)
            var directives: [HeartbeatDirective] = []
            switch event {
            case .touch(let key, let timeMax, let valid):
                directives = tracker.onTouch(
                    table: table, key: key, timeMax: timeMax, currentlyValid: valid, now: now)
            case .tick: directives = tracker.onTick(now: now)
            case .remove(let key): tracker.onRemove(table: table, key: key)
            case .extend(let grace): tracker.extendAll(by: grace, now: now)
            }
            #expect(directives == expected, "row \(index)")
            #expect(tracker.nextDeadline == next.map(at), "row \(index)")
        }
    }
}
