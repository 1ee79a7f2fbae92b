import Testing

@testable import DSDCore

@Suite struct PartitionTests {
    let part = StandardTable.metadataPart.id

    @Test func figure2G() throws {
        let directory = try figureDirectory()
        #expect(
            directory.partitionTarget(table: part, number: 6)
                == .success(PartitionTarget(partition: "0", instance: "MDS.1")))
        #expect(
            directory.partitionTarget(table: part, number: 8)
                == .success(PartitionTarget(partition: "2", instance: "MDS.2")))
        #expect(
            directory.partition(table: part, number: 6).map(\.description)
                == .success("16.7.13.1:1872"))
        #expect(
            directory.partition(table: part, number: 8).map(\.description)
                == .success("10.7.6.4:1872"))
    }

    @Test func directMappingWinsOverModulus() throws {
        let directory = try figureDirectory()
        #expect(
            directory.partitionTarget(table: part, number: 1).map(\.instance) == .success("MDS.1"))
        #expect(
            directory.partitionTarget(table: part, number: 2).map(\.instance) == .success("MDS.2"))
        #expect(
            directory.partition(table: StandardTable.bitfilePart.id, number: 5).map(\.description)
                == .success("10.16.0.2:1900"))
    }

    @Test func configuredModulus() throws {
        let directory = try figureDirectory()
        // 7 mod 2 = 1 → MDS.1, where 7 mod 3 = 1 too; 5 mod 2 = 1, 5 mod 3 = 2 → MDS.2.
        #expect(
            directory.partitionTarget(table: part, number: 5, modulus: 2).map(\.partition)
                == .success("1"))
        #expect(directory.partitionTarget(table: part, number: 5).map(\.partition) == .success("2"))
        #expect(
            directory.partitionTarget(table: part, number: 5, modulus: 7)
                == .failure(.noSuchPartition(5)))
        #expect(
            directory.partitionTarget(table: part, number: 5, modulus: 0)
                == .failure(.noSuchPartition(5)))
    }

    @Test func partitionOutcomes() throws {
        var directory = Directory(epoch: 1, settings: .testing)
        #expect(directory.partitionTarget(table: part, number: 3) == .failure(.noSuchPartition(3)))
        #expect(
            directory.partitionTarget(table: TableID(3000), number: 3)
                == .failure(.noSuchTable(TableID(3000))))
        try put(&directory, .metadataPart, "0", "MDS.1", valid: false)
        #expect(
            directory.partitionTarget(table: part, number: 4)
                == .failure(.invalidPartition(key: "0")))
        try put(&directory, .metadataPart, "0", "MDS.1")
        #expect(
            directory.partition(table: part, number: 4) == .failure(.find(.noSuchInstance("MDS.1")))
        )
    }
}
