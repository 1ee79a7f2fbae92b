import Testing

@testable import DSDCore

/// Every refusal reads as a sentence that names what was refused, never as a Swift enum dump.
@Suite struct ErrorDescriptionTests {
    static let dumps = [#"\w\("#, #"DSD[A-Z][a-z]\w*\."#, #"errno \d+"#]

    static let directoryErrors: [DirectoryError] = [
        .invalidKey(.empty), .invalidKey(.dotName), .invalidKey(.forbiddenCharacter(" ")),
        .invalidKey(.forbiddenCharacter("\u{7}")), .keyTooLong(bytes: 300), .invalidValue(.empty),
        .invalidValue(.forbiddenCharacter("\t")), .valueTooLong(bytes: 5000),
        .invalidTableName(.forbiddenCharacter("/")),
        .tableNameTooLong(bytes: 300), .noSuchTable("NOTABLE"), .noSuchTableID(TableID(77)),
        .noSuchEntry(StandardTable.metadata.id, key: "NOKEY"), .tableExists("MYTABLE"), .tableIDUnavailable(TableID(9)),
        .tooManyTables, .tableFull(StandardTable.metadata.id), .standardTable("DSD_MTID_METADATA"),
        .staleVersion(current: Version(epoch: 1, index: 2), received: Version(epoch: 1, index: 1)),
        .staleEpoch(current: 3, requested: 2), .inconsistentSnapshot("table T twice"),
    ]

    static func expectSentence(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for pattern in dumps {
            #expect(
                text.range(of: pattern, options: .regularExpression) == nil, "\(text)", sourceLocation: sourceLocation)
        }
        #expect(text.count > 10, "\(text)", sourceLocation: sourceLocation)
    }

    @Test(arguments: directoryErrors) func directoryErrorsAreSentences(error: DirectoryError) {
        Self.expectSentence(error.description)
        Self.expectSentence(error.description(naming: Directory(epoch: 1, settings: .testing).translation))
    }

    @Test func namesTablesAndKeys() {
        let names = Directory(epoch: 1, settings: .testing).translation
        #expect(
            DirectoryError.noSuchEntry(StandardTable.metadata.id, key: "NOKEY").description(naming: names)
                == "no entry NOKEY in table DSD_MTID_METADATA")
        #expect(DirectoryError.invalidKey(.forbiddenCharacter(" ")).description.contains("a space"))
        #expect(DirectoryError.invalidKey(.forbiddenCharacter("\u{7}")).description.contains("U+0007"))
        #expect(DirectoryError.valueTooLong(bytes: 5000).description.contains("1024"))
        #expect(DirectoryError.standardTable("DSD_MI").description.contains("DSD_MI"))
    }

    @Test func resolutionFailuresNameTheirSubject() {
        let finds: [(FindError, String)] = [
            (.noSuchInstance("MDS.99"), "MDS.99"), (.noValidServer("MDS.1"), "MDS.1"),
            (.noValidRoute(host: "HOST77"), "HOST77"), (.malformedRoute("junk"), "junk"),
            (.noSuchTable(TableID(3)), "#3"),
        ]
        for (error, name) in finds {
            Self.expectSentence(error.description)
            #expect(error.description.contains(name))
        }
        let partitions: [PartitionError] = [
            .noSuchTable(TableID(5)), .noSuchPartition(3), .invalidPartition(key: "1"), .find(.noSuchInstance("MDS.4")),
        ]
        for error in partitions {
            Self.expectSentence(error.description(table: "DSD_MTID_METADATA"))
        }
        #expect(PartitionError.noSuchPartition(3).description(table: "DSD_MTID_METADATA").contains("DSD_MTID_METADATA"))
    }
}
