import DSDCore
import Glibc
import Testing

@testable import DSDFuse

@Suite struct ReplicaMirrorTests {
    let start: [String: [Entry]] = ["T": [Entry(key: "a", value: "1"), Entry(key: "b", value: "2")]]

    @Test func eventsBecomeTreeChanges() {
        var mirror = ReplicaMirror(snapshot: start)
        let none: () -> [String: [Entry]] = { [:] }
        let a2 = Entry(key: "a", value: "1", valid: false)
        #expect(
            mirror.apply(.put(table: "T", entry: a2, previous: nil), snapshot: none)
                == [.entryModified(table: "T", old: Entry(key: "a", value: "1"), new: a2)])
        #expect(mirror.apply(.put(table: "T", entry: a2, previous: a2), snapshot: none) == [])
        let c = Entry(key: "c", value: "3")
        #expect(
            mirror.apply(.put(table: "T", entry: c, previous: nil), snapshot: none)
                == [.entryCreated(table: "T", entry: c)])
        #expect(
            mirror.apply(.put(table: "U", entry: c, previous: nil), snapshot: none)
                == [.tableCreated("U"), .entryCreated(table: "U", entry: c)])
        #expect(
            mirror.apply(.delete(table: "T", key: "b"), snapshot: none)
                == [.entryDeleted(table: "T", entry: Entry(key: "b", value: "2"))])
        #expect(mirror.apply(.delete(table: "T", key: "b"), snapshot: none) == [])
        #expect(mirror.apply(.tableCreated("U"), snapshot: none) == [])
        #expect(mirror.apply(.tableDropped("T"), snapshot: none) == [.tableDropped("T", keys: ["a", "c"])])
    }

    @Test func resetDiffsTheSnapshot() {
        var mirror = ReplicaMirror(snapshot: start.merging(["OLD": []]) { $1 })
        let fresh: [String: [Entry]] = [
            "T": [Entry(key: "a", value: "9"), Entry(key: "c", value: "3")], "NEW": [Entry(key: "x", value: "1")],
        ]
        let changes = mirror.apply(.reset) { fresh }
        #expect(
            changes == [
                .tableDropped("OLD", keys: []),
                .tableCreated("NEW"), .entryCreated(table: "NEW", entry: Entry(key: "x", value: "1")),
                .entryDeleted(table: "T", entry: Entry(key: "b", value: "2")),
                .entryModified(table: "T", old: Entry(key: "a", value: "1"), new: Entry(key: "a", value: "9")),
                .entryCreated(table: "T", entry: Entry(key: "c", value: "3")),
            ])
        #expect(mirror.apply(.reset) { fresh } == [])
    }
}

@Suite struct BridgeStateTests {
    let path = PathKey(table: "T", key: "k")

    @Test func echoOfAReplyedLocalChangeIsConsumed() {
        var state = BridgeState()
        let op = state.beginLocal(path, .put(value: "v", valid: true))
        #expect(state.endLocal(path, id: op, succeeded: true, now: .now) == false)
        #expect(state.matchEcho(path, .put(value: "v", valid: true)) == .replied)
        #expect(state.matchEcho(path, .put(value: "v", valid: true)) == .none)
    }

    @Test func echoBeforeTheReplyIsLeftToTheHandler() {
        var state = BridgeState()
        let op = state.beginLocal(path, .delete)
        #expect(state.matchEcho(path, .delete) == .pending)
        #expect(state.endLocal(path, id: op, succeeded: true, now: .now) == true)
        #expect(state.localOps.isEmpty)
    }

    @Test func failedAndDifferentChangesAreNotEchoes() {
        var state = BridgeState()
        let op = state.beginLocal(path, .put(value: "v", valid: true))
        #expect(state.matchEcho(path, .put(value: "w", valid: true)) == .none)
        _ = state.endLocal(path, id: op, succeeded: false, now: .now)
        #expect(state.matchEcho(path, .put(value: "v", valid: true)) == .none)
    }

    @Test func unmatchedEchoesExpire() {
        var state = BridgeState()
        let now = ContinuousClock.now
        let op = state.beginLocal(path, .delete)
        _ = state.endLocal(path, id: op, succeeded: true, now: now)
        state.purgeEchoes(olderThan: now.advanced(by: .seconds(-1)))
        #expect(!state.localOps.isEmpty)
        state.purgeEchoes(olderThan: now.advanced(by: .seconds(1)))
        #expect(state.localOps.isEmpty)
    }

    @Test func futureMtimeBecomesAContinuousDeadline() {
        let continuousNow = ContinuousClock.now
        let wall = timespecOf(seconds: 1_000, nanos: 500_000_000)
        let future = WallClock.deadline(
            forMtime: timespecOf(seconds: 1_003, nanos: 0), wallNow: wall, continuousNow: continuousNow)
        #expect(future == continuousNow.advanced(by: .milliseconds(2_500)))
        #expect(WallClock.deadline(forMtime: wall, wallNow: wall, continuousNow: continuousNow) == nil)
        #expect(
            WallClock.deadline(
                forMtime: timespecOf(seconds: 999, nanos: 0), wallNow: wall, continuousNow: continuousNow) == nil)
    }
}

func timespecOf(seconds: Int, nanos: Int) -> timespec { timespec(tv_sec: seconds, tv_nsec: nanos) }
