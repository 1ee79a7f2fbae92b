import DSDCore
import DSDTestSupport
import Testing

@testable import DSDServer

@Suite struct LeaseStoreTests {
    let agents: [AgentLiveness.PersistedAgent] = [
        .init(
            host: "HOST9", bootID: 0xDEAD_BEEF_0000_0001,
            leases: [
                .init(
                    table: StandardTable.metadata.id, key: "MDS.1.0", timeMax: .milliseconds(300), value: "HOST9:1872"),
                .init(table: TableID(1_024), key: "k", timeMax: .seconds(3600), value: ""),
            ]),
        .init(
            host: "HOST11", bootID: 7,
            leases: [.init(table: TableID(2), key: "MDS.1.1", timeMax: .seconds(3), value: "HOST11:1872 ü")]),
    ]

    @Test func roundTrips() throws {
        #expect(try LeaseStore.decode(LeaseStore.encode(agents)) == agents)
        #expect(try LeaseStore.decode(LeaseStore.encode([])) == [])
    }

    @Test func everyFlippedBitIsRefused() {
        let bytes = LeaseStore.encode(agents)
        for index in bytes.indices {
            for bit in 0..<8 {
                var damaged = bytes
                damaged[index] ^= 1 << bit
                #expect(throws: LeaseStore.Failure.self) { try LeaseStore.decode(damaged) }
            }
        }
    }

    @Test func everyTruncationIsRefused() {
        let bytes = LeaseStore.encode(agents)
        for length in 0..<bytes.count {
            #expect(throws: LeaseStore.Failure.self) { try LeaseStore.decode(Array(bytes.prefix(length))) }
        }
    }

    @Test func savedFileLoadsBackAndAMissingOneIsEmpty() throws {
        let dir = try TempDirectory()
        #expect(try LeaseStore.load(directory: dir.path) == [])
        try LeaseStore.save(agents, directory: dir.path)
        #expect(try LeaseStore.load(directory: dir.path) == agents)
        try LeaseStore.save(Array(agents.prefix(1)), directory: dir.path)
        #expect(try LeaseStore.load(directory: dir.path) == Array(agents.prefix(1)))
    }
}
