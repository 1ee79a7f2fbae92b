import DSDCore
import DSDTestSupport
import Testing

/// Transition table of `AgentLiveness`, with explicit instants.
@Suite struct AgentLivenessTests {
    let table = TableID(rawValue: 7)
    let settings = AgentLiveness.Settings(agentTimeout: .seconds(1))

    func at(_ millis: UInt64) -> Instant { Instant(nanoseconds: millis * 1_000_000) }

    /// An agent HOST9 (boot 1, connection 100) holding leases on MDS.1.0 and MDS.2.0.
    func leased(start: Instant? = nil, leaseAt: UInt64 = 1_000, timeMax: Duration = .milliseconds(300))
        -> AgentLiveness
    {
        var machine = AgentLiveness(settings: settings)
        if let start { #expect(machine.onStart(now: start).isEmpty) }
        #expect(machine.onConnected(host: "HOST9", bootID: 1, connection: 100, now: at(leaseAt)).isEmpty)
        for key in ["MDS.1.0", "MDS.2.0"] {
            let directives = machine.onLease(
                host: "HOST9", connection: 100, table: table, key: key, timeMax: timeMax, value: "HOST9:\(key)",
                now: at(leaseAt))
            #expect(directives.isEmpty)
        }
        return machine
    }

    var bothInvalid: [AgentLivenessDirective] {
        [
            .markInvalid(table, key: "MDS.1.0", value: "HOST9:MDS.1.0"),
            .markInvalid(table, key: "MDS.2.0", value: "HOST9:MDS.2.0"),
        ]
    }

    @Test func expiryExactlyAtTheBound() {
        var machine = leased()
        #expect(machine.onDisconnected(host: "HOST9", connection: 100, now: at(2_000)) == [.armTimer(at: at(3_000))])
        #expect(machine.nextDeadline == at(3_000))
        let early = machine.onTick(now: Instant(nanoseconds: at(3_000).nanoseconds - 1))
        #expect(early == [.armTimer(at: at(3_000))])
        #expect(machine.onTick(now: at(3_000)) == bothInvalid)
        #expect(machine.agents["HOST9"] == nil)
        #expect(machine.nextDeadline == nil)
        #expect(machine.onTick(now: at(10_000)).isEmpty)
    }

    @Test func connectedAgentNeverExpires() {
        var machine = leased()
        #expect(machine.nextDeadline == nil)
        #expect(machine.onTick(now: at(1_000_000)).isEmpty)
        #expect(machine.leaseCount == 2)
    }

    @Test func reconnectWithSameBootCancelsExpiry() {
        var machine = leased()
        _ = machine.onDisconnected(host: "HOST9", connection: 100, now: at(2_000))
        #expect(machine.onConnected(host: "HOST9", bootID: 1, connection: 101, now: at(2_999)).isEmpty)
        #expect(machine.nextDeadline == nil)
        #expect(machine.onTick(now: at(3_000)).isEmpty)
        #expect(machine.leaseCount == 2)
        // The old connection's late close changes nothing; the new one's starts the timeout.
        #expect(machine.onDisconnected(host: "HOST9", connection: 100, now: at(3_100)).isEmpty)
        #expect(machine.onDisconnected(host: "HOST9", connection: 101, now: at(4_000)) == [.armTimer(at: at(5_000))])
        #expect(machine.onTick(now: at(5_000)) == bothInvalid)
    }

    @Test func lateCloseOfAReplacedConnectionIsIgnored() {
        var machine = leased()
        // The agent reconnected before the directory saw the old socket close.
        #expect(machine.onConnected(host: "HOST9", bootID: 1, connection: 101, now: at(1_500)).isEmpty)
        #expect(machine.onDisconnected(host: "HOST9", connection: 100, now: at(1_600)).isEmpty)
        #expect(machine.nextDeadline == nil)
        #expect(machine.onTick(now: at(9_000)).isEmpty)
    }

    @Test func restartWithNewBootInvalidatesAtOnce() {
        var machine = leased()
        _ = machine.onDisconnected(host: "HOST9", connection: 100, now: at(2_000))
        let directives = machine.onConnected(host: "HOST9", bootID: 2, connection: 101, now: at(2_100))
        #expect(directives == bothInvalid)
        #expect(machine.agents["HOST9"]?.bootID == 2)
        #expect(machine.leaseCount == 0)
        #expect(machine.onTick(now: at(3_000)).isEmpty)
    }

    @Test func restartWhileStillConnectedInvalidatesAtOnce() {
        var machine = leased()
        // The new process connects before the directory noticed the old one's socket close.
        #expect(machine.onConnected(host: "HOST9", bootID: 2, connection: 101, now: at(1_200)) == bothInvalid)
        #expect(machine.onDisconnected(host: "HOST9", connection: 100, now: at(1_300)).isEmpty)
    }

    @Test func restartIgnoresTheGraceFloor() {
        var machine = leased(start: at(0), leaseAt: 100, timeMax: .seconds(3))
        #expect(machine.onConnected(host: "HOST9", bootID: 2, connection: 101, now: at(200)) == bothInvalid)
    }

    @Test func noExpiryInsideTheGracePeriod() {
        // Started at 0; leased at 100 ms with Time_Max 3 s: floor = 0 + 3 s + 1 s = 4 s.
        var machine = leased(start: at(0), leaseAt: 100, timeMax: .seconds(3))
        #expect(machine.onDisconnected(host: "HOST9", connection: 100, now: at(200)) == [.armTimer(at: at(4_000))])
        #expect(machine.onTick(now: at(1_200)) == [.armTimer(at: at(4_000))])
        #expect(machine.onTick(now: at(3_999)) == [.armTimer(at: at(4_000))])
        #expect(machine.onTick(now: at(4_000)) == bothInvalid)
    }

    @Test func graceFloorIsMeasuredFromTheStartNotFromTheLease() {
        // Started at 0; leased at 3.5 s with Time_Max 3 s: floor 4 s; disconnect at 3.6 s →
        // the agent timeout (4.6 s) is later than the floor and wins.
        var machine = leased(start: at(0), leaseAt: 3_500, timeMax: .seconds(3))
        #expect(machine.onDisconnected(host: "HOST9", connection: 100, now: at(3_600)) == [.armTimer(at: at(4_600))])
        #expect(machine.onTick(now: at(4_599)) == [.armTimer(at: at(4_600))])
        #expect(machine.onTick(now: at(4_600)) == bothInvalid)
    }

    @Test func leaseLearnedAfterTheGraceHasNoFloor() {
        var machine = leased(start: at(0), leaseAt: 10_000, timeMax: .seconds(3))
        #expect(machine.agents["HOST9"]?.leases.values.allSatisfy { $0.notBefore == nil } == true)
        #expect(machine.onDisconnected(host: "HOST9", connection: 100, now: at(10_100)) == [.armTimer(at: at(11_100))])
    }

    @Test func unleaseForgetsTheEntry() {
        var machine = leased()
        #expect(machine.onUnlease(host: "HOST9", connection: 100, table: table, key: "MDS.1.0", now: at(1_100)).isEmpty)
        _ = machine.onDisconnected(host: "HOST9", connection: 100, now: at(2_000))
        #expect(machine.onTick(now: at(3_000)) == [.markInvalid(table, key: "MDS.2.0", value: "HOST9:MDS.2.0")])
    }

    @Test func leaseFromAnUnknownOrReplacedConnectionIsIgnored() {
        var machine = leased()
        _ = machine.onLease(
            host: "HOST9", connection: 99, table: table, key: "MDS.3.0", timeMax: .seconds(1), value: "v",
            now: at(1_100))
        _ = machine.onLease(
            host: "HOST5", connection: 5, table: table, key: "MDS.3.0", timeMax: .seconds(1), value: "v", now: at(1_100)
        )
        #expect(machine.leaseCount == 2)
        #expect(machine.agents["HOST5"] == nil)
    }

    @Test func writesByTheHolderMoveTheProtectedValue() {
        var machine = leased()
        machine.onWrite(host: "HOST9", table: table, key: "MDS.1.0", value: "HOST9:2000")
        machine.onWrite(host: "HOST5", table: table, key: "MDS.2.0", value: "HOST5:2000")
        machine.onWrite(host: "HOST9", table: table, key: "MDS.9.0", value: "not leased")
        _ = machine.onDisconnected(host: "HOST9", connection: 100, now: at(2_000))
        #expect(
            machine.onTick(now: at(3_000)) == [
                .markInvalid(table, key: "MDS.1.0", value: "HOST9:2000"),
                .markInvalid(table, key: "MDS.2.0", value: "HOST9:MDS.2.0"),
            ])
        #expect(machine.leaseCount == 0)
    }

    @Test func anAgentWithoutLeasesIsForgottenAfterTheTimeout() {
        var machine = AgentLiveness(settings: settings)
        _ = machine.onConnected(host: "HOST3", bootID: 4, connection: 1, now: at(0))
        #expect(machine.onDisconnected(host: "HOST3", connection: 1, now: at(100)) == [.armTimer(at: at(1_100))])
        #expect(machine.onTick(now: at(1_100)).isEmpty)
        #expect(machine.agents.isEmpty)
    }

    @Test func twoAgentsExpireIndependently() {
        var machine = leased()
        _ = machine.onConnected(host: "HOST5", bootID: 8, connection: 200, now: at(1_000))
        _ = machine.onLease(
            host: "HOST5", connection: 200, table: table, key: "MDS.1.1", timeMax: .seconds(1), value: "HOST5:1",
            now: at(1_000))
        _ = machine.onDisconnected(host: "HOST5", connection: 200, now: at(1_500))
        #expect(machine.onDisconnected(host: "HOST9", connection: 100, now: at(2_000)) == [.armTimer(at: at(2_500))])
        #expect(
            machine.onTick(now: at(2_500)) == [
                .markInvalid(table, key: "MDS.1.1", value: "HOST5:1"), .armTimer(at: at(3_000)),
            ])
        #expect(machine.onTick(now: at(3_000)) == bothInvalid)
    }
}

/// Leases across a directory restart: `persisted` before, `onStart(now:restoring:)` after.
@Suite struct AgentLivenessRestartTests {
    let table = TableID(rawValue: 7)
    let settings = AgentLiveness.Settings(agentTimeout: .seconds(1), reconnectWindow: .seconds(1))

    func at(_ millis: UInt64) -> Instant { Instant(nanoseconds: millis * 1_000_000) }

    /// What a directory stored: HOST9 (boot 1) leasing MDS.1.0 (Time_Max 300 ms) and MDS.2.0
    /// (Time_Max 2 s), written by HOST9 afterwards.
    func stored() -> [AgentLiveness.PersistedAgent] {
        var machine = AgentLiveness(settings: settings)
        _ = machine.onStart(now: at(0))
        _ = machine.onConnected(host: "HOST9", bootID: 1, connection: 100, now: at(10_000))
        _ = machine.onLease(
            host: "HOST9", connection: 100, table: table, key: "MDS.1.0", timeMax: .milliseconds(300),
            value: "HOST9:1872", now: at(10_000))
        _ = machine.onLease(
            host: "HOST9", connection: 100, table: table, key: "MDS.2.0", timeMax: .seconds(2), value: "HOST9:1873",
            now: at(10_000))
        machine.onWrite(host: "HOST9", table: table, key: "MDS.2.0", value: "HOST9:1999")
        return machine.persisted
    }

    @Test func persistedHoldsEveryLeaseWithTheValueItProtects() {
        #expect(
            stored() == [
                .init(
                    host: "HOST9", bootID: 1,
                    leases: [
                        .init(table: table, key: "MDS.1.0", timeMax: .milliseconds(300), value: "HOST9:1872"),
                        .init(table: table, key: "MDS.2.0", timeMax: .seconds(2), value: "HOST9:1999"),
                    ])
            ])
    }

    @Test func anAgentThatNeverComesBackLosesEachLeaseAfterTheWindowOrItsTimeMax() {
        var machine = AgentLiveness(settings: settings)
        // Started at 50 s, reconnect window and agent timeout 1 s each: MDS.1.0 (Time_Max
        // 0.3 s, shorter than the window) is due at 50 + 1 + 1 s, MDS.2.0 at 50 + 2 + 1 s.
        #expect(machine.onStart(now: at(50_000), restoring: stored()) == [.armTimer(at: at(52_000))])
        #expect(machine.onTick(now: at(51_999)) == [.armTimer(at: at(52_000))])
        #expect(
            machine.onTick(now: at(52_000)) == [
                .markInvalid(table, key: "MDS.1.0", value: "HOST9:1872"), .armTimer(at: at(53_000)),
            ])
        #expect(machine.onTick(now: at(53_000)) == [.markInvalid(table, key: "MDS.2.0", value: "HOST9:1999")])
        #expect(machine.agents.isEmpty)
        #expect(machine.persisted.isEmpty)
    }

    @Test func anAgentBackWithTheSameBootKeepsItsLeases() {
        var machine = AgentLiveness(settings: settings)
        _ = machine.onStart(now: at(50_000), restoring: stored())
        #expect(machine.onConnected(host: "HOST9", bootID: 1, connection: 200, now: at(50_400)).isEmpty)
        #expect(machine.nextDeadline == nil)
        #expect(machine.onTick(now: at(60_000)).isEmpty)
        #expect(machine.leaseCount == 2)
    }

    @Test func anAgentThatRestartedWhileTheDirectoryWasDownLosesThemAtOnce() {
        var machine = AgentLiveness(settings: settings)
        _ = machine.onStart(now: at(50_000), restoring: stored())
        let before = machine.generation
        #expect(
            machine.onConnected(host: "HOST9", bootID: 2, connection: 200, now: at(50_100)) == [
                .markInvalid(table, key: "MDS.1.0", value: "HOST9:1872"),
                .markInvalid(table, key: "MDS.2.0", value: "HOST9:1999"),
            ])
        #expect(machine.generation > before)
        #expect(machine.persisted.isEmpty)
    }

    @Test func generationMovesOnlyWhenWhatIsStoredChanges() {
        var machine = AgentLiveness(settings: settings)
        _ = machine.onStart(now: at(0))
        var seen = machine.generation
        func changed() -> Bool {
            defer { seen = machine.generation }
            return machine.generation != seen
        }
        _ = machine.onConnected(host: "HOST9", bootID: 1, connection: 100, now: at(1))
        #expect(!changed(), "a connect without leases stores nothing")
        _ = machine.onLease(
            host: "HOST9", connection: 100, table: table, key: "K", timeMax: .seconds(1), value: "v", now: at(2))
        #expect(changed())
        _ = machine.onLease(
            host: "HOST9", connection: 100, table: table, key: "K", timeMax: .seconds(1), value: "v", now: at(3))
        #expect(!changed(), "the same lease again (every reconnect re-leases)")
        machine.onWrite(host: "HOST9", table: table, key: "K", value: "w")
        #expect(changed())
        _ = machine.onDisconnected(host: "HOST9", connection: 100, now: at(4))
        #expect(!changed(), "a disconnect changes no lease")
        _ = machine.onConnected(host: "HOST9", bootID: 1, connection: 101, now: at(5))
        _ = machine.onUnlease(host: "HOST9", connection: 101, table: table, key: "K", now: at(6))
        #expect(changed())
    }

    @Test func aStalledDirectoryGivesEveryLeaseTheGraceOfAStart() {
        var machine = AgentLiveness(settings: .init(agentTimeout: .seconds(1), reconnectWindow: .seconds(5)))
        _ = machine.onStart(now: at(0))
        _ = machine.onConnected(host: "HOST9", bootID: 1, connection: 100, now: at(10_000))
        _ = machine.onLease(
            host: "HOST9", connection: 100, table: table, key: "MDS.1.0", timeMax: .milliseconds(300),
            value: "HOST9:1872", now: at(10_000))
        // The directory's loop was stuck until 20 s; the agent gave up on it at 15 s, which
        // the directory only processes now.
        #expect(machine.onDirectoryStalled(now: at(20_000)).isEmpty, "nobody disconnected yet: no timer")
        #expect(machine.onDisconnected(host: "HOST9", connection: 100, now: at(20_000)) == [.armTimer(at: at(26_000))])
        #expect(machine.onTick(now: at(21_000)) == [.armTimer(at: at(26_000))], "not at disconnect + 1 s")
        // Back within the grace: nothing lost.
        #expect(machine.onConnected(host: "HOST9", bootID: 1, connection: 101, now: at(22_500)).isEmpty)
        #expect(machine.onTick(now: at(30_000)).isEmpty)
        // Gone for good: lost at the end of the grace.
        _ = machine.onDisconnected(host: "HOST9", connection: 101, now: at(30_000))
        #expect(machine.onTick(now: at(31_000)) == [.markInvalid(table, key: "MDS.1.0", value: "HOST9:1872")])
    }
}
