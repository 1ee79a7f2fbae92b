import DSDTestSupport
import Testing

@testable import DSDCore

@Suite struct PromotionTests {
    let metadata = StandardTable.metadata.id

    /// Commits a change and every promotion it leads to, as the directory server does.
    func commitWithPromotion(
        _ directory: inout Directory, _ mutation: Mutation, settings: Promotion.Settings = .default
    ) throws -> [Change] {
        var changes = [try directory.commit(mutation)]
        var index = 0
        while index < changes.count {
            for follow in Promotion.decide(directory, after: changes[index], settings: settings) {
                changes.append(try directory.commit(follow))
            }
            index += 1
        }
        return changes
    }

    @Test func figure4CFailover() throws {
        var directory = try figureDirectory()
        let entry = Entry(key: "MDS.1.1", value: "HOST9:1872", valid: false)
        let changes = try commitWithPromotion(&directory, .put(metadata, entry))
        #expect(changes.count == 2)
        #expect(
            changes[1].mutation
                == .put(metadata, Entry(key: "MDS.1", value: "HOST11:1872", valid: true)))
        #expect(directory.primary(of: "MDS.1")?.key == "MDS.1.0")
        #expect(directory.findServer("MDS.1").map(\.description) == .success("16.7.13.11:1872"))
    }

    @Test func decideIsPure() throws {
        let directory = try figureDirectory()
        #expect(Promotion.decide(directory, table: metadata, changedKey: "MDS.1.1").isEmpty)
        #expect(Promotion.decide(directory, table: metadata, changedKey: "MDS.1.0").isEmpty)
        #expect(Promotion.decide(directory, table: metadata, changedKey: "MDS.1").isEmpty)
        #expect(Promotion.decide(directory, table: metadata, changedKey: "GW.1").isEmpty)
    }

    @Test func backupFailureLeavesPrimary() throws {
        var directory = try figureDirectory()
        let changes = try commitWithPromotion(
            &directory, .put(metadata, Entry(key: "MDS.1.0", value: "HOST11:1872", valid: false)))
        #expect(changes.count == 1)
        #expect(directory.entry(table: metadata, key: "MDS.1")?.value == "HOST9:1872")
    }

    @Test func deletedPrimaryIsReplaced() throws {
        var directory = try figureDirectory()
        _ = try commitWithPromotion(&directory, .delete(metadata, key: "MDS.1.1"))
        #expect(
            directory.entry(table: metadata, key: "MDS.1")
                == Entry(key: "MDS.1", value: "HOST11:1872"))
    }

    @Test func noValidInstanceInvalidatesServiceThenRecovers() throws {
        var directory = try figureDirectory()
        _ = try commitWithPromotion(
            &directory, .put(metadata, Entry(key: "MDS.1.0", value: "HOST11:1872", valid: false)))
        _ = try commitWithPromotion(
            &directory, .put(metadata, Entry(key: "MDS.1.1", value: "HOST9:1872", valid: false)))
        // The service keeps its value but is invalid: find reports no valid server.
        #expect(
            directory.entry(table: metadata, key: "MDS.1")
                == Entry(key: "MDS.1", value: "HOST9:1872", valid: false))
        #expect(directory.findServer("MDS.1") == .failure(.noValidServer("MDS.1")))
        // The backup comes back first and becomes primary.
        _ = try commitWithPromotion(
            &directory, .put(metadata, Entry(key: "MDS.1.0", value: "HOST11:1872", valid: true)))
        #expect(
            directory.entry(table: metadata, key: "MDS.1")
                == Entry(key: "MDS.1", value: "HOST11:1872", valid: true))
        // The old primary recovering does not take the role back.
        let changes = try commitWithPromotion(
            &directory, .put(metadata, Entry(key: "MDS.1.1", value: "HOST9:1872", valid: true)))
        #expect(changes.count == 1)
        #expect(directory.primary(of: "MDS.1")?.key == "MDS.1.0")
    }

    @Test func invalidServiceRevalidatesItsOwnPrimaryFirst() throws {
        var directory = try figureDirectory()
        try put(&directory, .metadata, "MDS.1", "HOST9:1872", valid: false)
        // Both instances valid: the one already holding the route keeps it.
        let mutations = Promotion.decide(directory, table: metadata, changedKey: "MDS.1.0")
        #expect(
            mutations == [.put(metadata, Entry(key: "MDS.1", value: "HOST9:1872", valid: true))])
    }

    @Test func deletingLastInstanceInvalidatesService() throws {
        var directory = try figureDirectory()
        _ = try commitWithPromotion(&directory, .delete(metadata, key: "MDS.1.0"))
        _ = try commitWithPromotion(&directory, .delete(metadata, key: "MDS.1.1"))
        #expect(directory.entry(table: metadata, key: "MDS.1")?.valid == false)
    }

    @Test func reclaimPrimaryPrefersFirstInstance() throws {
        var directory = try figureDirectory()
        let settings = Promotion.Settings(reclaimPrimary: true)
        let changes = try commitWithPromotion(
            &directory, .put(metadata, Entry(key: "MDS.1.0", value: "HOST11:1872")),
            settings: settings)
        #expect(changes.count == 2)
        #expect(directory.primary(of: "MDS.1")?.key == "MDS.1.0")
    }

    @Test func siblingsOrderNumerically() throws {
        var directory = Directory(epoch: 1, settings: .testing)
        try put(&directory, .metadata, "S", "H:1")
        try put(&directory, .metadata, "S.1", "H:1")
        try put(&directory, .metadata, "S.10", "H:10")
        try put(&directory, .metadata, "S.2", "H:2")
        try put(&directory, .metadata, "S.2.5", "H:25")  // a grandchild, not an instance of S
        try put(&directory, .metadata, "S.1", "H:1", valid: false)
        let mutations = Promotion.decide(directory, table: metadata, changedKey: "S.1")
        #expect(mutations == [.put(metadata, Entry(key: "S", value: "H:2"))])
    }

    /// Random validity changes and deletions of the instances of one service: after the
    /// promotions settle, the service is valid exactly when some instance is, and then points
    /// at a valid instance.
    @Test(arguments: [11, 12, 13] as [UInt64])
    func promotionInvariant(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var directory = try figureDirectory()
        let keys = (0..<5).map { "MDS.1.\($0)" }
        for step in 0..<600 {
            let key = keys.randomElement(using: &rng)!
            let mutation: Mutation
            if rng.next() % 5 == 0 {
                guard directory.entry(table: metadata, key: key) != nil else { continue }
                mutation = .delete(metadata, key: key)
            } else {
                mutation = .put(
                    metadata,
                    Entry(key: key, value: "HOST9:\(1800 + step % 7)", valid: rng.next() % 2 == 0))
            }
            let changes = try commitWithPromotion(&directory, mutation)
            #expect(changes.count <= 2)
            let service = try #require(directory.entry(table: metadata, key: "MDS.1"))
            let valid = directory.instances(of: "MDS.1", in: metadata).filter(\.valid)
            #expect(service.valid == !valid.isEmpty)
            if service.valid { #expect(valid.contains { $0.value == service.value }) }
            #expect(Promotion.decide(directory, table: metadata, changedKey: key).isEmpty)
        }
    }
}
