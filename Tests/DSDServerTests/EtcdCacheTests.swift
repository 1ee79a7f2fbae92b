import DSDCore
import Testing

@testable import DSDServer

/// A server's copy kept between runs, and the agents' records: what goes in comes back, and a
/// damaged file is refused rather than served.
@Suite struct EtcdCacheTests {
    let record = AgentRecord(
        bootID: 0xFFFF_FFFF_FFFF_FFF1, probePort: 7401, routes: [.init(index: 0, address: "16.7.13.1")],
        leases: [.init(table: 2, key: "MDS.1.1", timeMaxMillis: 3000, value: "HOST9:1872")])

    func directory() throws -> Directory {
        let settings = Directory.Settings(retainedChanges: 8, continuousVersions: true)
        var directory = try Directory(
            snapshot: Snapshot(version: Version(epoch: 5, index: 40), nextDynamicID: .firstDynamic, tables: []),
            settings: settings)
        try directory.apply(
            Change(
                version: Version(epoch: 5, index: 41),
                mutation: .put(StandardTable.metadata.id, Entry(key: "MDS.1", value: "HOST9:1872"))))
        try directory.advance(to: Version(epoch: 5, index: 44))
        return directory
    }

    @Test func recordsRoundTripThroughJSON() {
        #expect(AgentRecord(json: record.json) == record, "64-bit boot ids survive JSON")
        #expect(AgentRecord(json: Array("{not json".utf8)) == nil)
        let persisted = record.persisted
        #expect(persisted.bootID == record.bootID)
        #expect(persisted.leases.first?.timeMax == .seconds(3))
        #expect(record.announce.routes.first?.address == "16.7.13.1")
    }

    @Test func theCacheHoldsTheCopyAtItsRevision() throws {
        let bytes = try EtcdCache.encode(try directory(), agents: ["HOST9": record], presence: ["HOST9": 77])
        let (restored, agents) = try EtcdCache.decode(bytes, settings: .default)
        #expect(restored.version == Version(epoch: 5, index: 44), "the revision the copy had reached")
        #expect(restored.entry(table: StandardTable.metadata.id, key: "MDS.1")?.value == "HOST9:1872")
        #expect(restored.settings.continuousVersions)
        #expect(agents.records["HOST9"] == record)
        #expect(agents.presence["HOST9"] == 77)
    }

    @Test func aDamagedCacheIsRefused() throws {
        var bytes = try EtcdCache.encode(try directory(), agents: [:], presence: [:])
        bytes[bytes.count / 2] ^= 0x40
        #expect(throws: EtcdCache.Failure.self) { try EtcdCache.decode(bytes, settings: .default) }
        #expect(throws: EtcdCache.Failure.self) { try EtcdCache.decode(Array("DSDLEASE".utf8), settings: .default) }
    }
}
