import Testing

@testable import DSDCore

@Suite struct LoadFormatTests {
    @Test func parsesEntriesCommentsAndDefaults() throws {
        let text =
            "# header\n\n  DSD_MTID_METADATA\tMDS.1   HOST9:1872\r\nDSD_HOST_ROUTE HOST1.0 10.17.6.4 0\n   # indented comment\nAPP k#1 v#2 1"
        let document = try LoadFormat.parse(text)
        #expect(
            document.items == [
                LoadFormat.Item(
                    table: "DSD_MTID_METADATA", entry: Entry(key: "MDS.1", value: "HOST9:1872"),
                    line: 3),
                LoadFormat.Item(
                    table: "DSD_HOST_ROUTE",
                    entry: Entry(key: "HOST1.0", value: "10.17.6.4", valid: false), line: 4),
                LoadFormat.Item(table: "APP", entry: Entry(key: "k#1", value: "v#2"), line: 6),
            ])
        #expect(document.tableNames == ["DSD_MTID_METADATA", "DSD_HOST_ROUTE", "APP"])
        #expect(document.tablesToCreate(in: Directory(epoch: 1, settings: .testing)) == ["APP"])
    }

    @Test(arguments: [
        ("T K\n", LoadFormat.ParseError(line: 1, problem: .fieldCount(2))),
        ("# ok\nT K V 1 extra\n", .init(line: 2, problem: .fieldCount(5))),
        ("T K V 2", .init(line: 1, problem: .invalidValid("2"))),
        ("T K V yes", .init(line: 1, problem: .invalidValid("yes"))),
        (
            "\n\nT/X K V",
            .init(line: 3, problem: .invalid(.invalidTableName(.forbiddenCharacter("/"))))
        ),
        ("T .. V", .init(line: 1, problem: .invalid(.invalidKey(.dotName)))),
        (
            "T K \u{1}",
            .init(line: 1, problem: .invalid(.invalidValue(.forbiddenCharacter("\u{1}"))))
        ),
    ])
    func reportsLineNumbers(text: String, expected: LoadFormat.ParseError) {
        #expect(throws: expected) { try LoadFormat.parse(text) }
    }

    @Test func loadCreatesMissingTablesAndRoundTrips() throws {
        let directory = try figureDirectory()
        var target = Directory(epoch: 5, settings: .testing)
        let text = LoadFormat.render(directory) + "APP a b 0\nAPP2 c d\n"
        let mutations = try target.mutations(loading: try LoadFormat.parse(text))
        #expect(
            mutations.prefix(2) == [
                .createTable(TableID(1024), name: "APP"), .createTable(TableID(1025), name: "APP2"),
            ])
        for mutation in mutations { _ = try target.commit(mutation) }
        #expect(target.entry(table: "APP", key: "a") == Entry(key: "a", value: "b", valid: false))
        // Rendering the loaded directory gives back the same text, tables by name.
        let reparsed = try LoadFormat.parse(LoadFormat.render(target))
        let original = try LoadFormat.parse(text)
        #expect(
            Set(reparsed.items.map { "\($0.table) \($0.entry)" })
                == Set(original.items.map { "\($0.table) \($0.entry)" }))
        #expect(
            LoadFormat.render(target).hasPrefix(
                "APP a b 0\nAPP2 c d 1\nDSD_HOST_ROUTE HOST0.0 10.7.6.4 1\n"))
    }

    /// A backup keeps empty tables: a dump writes each (but the standard ones, which always
    /// exist) as its name alone, and a load creates it.
    @Test func emptyTablesSurviveDumpAndLoad() throws {
        var source = Directory(epoch: 1, settings: .testing)
        for mutation in try source.mutations(loading: try LoadFormat.parse("EMPTY\nFULL k v\n")) {
            _ = try source.commit(mutation)
        }
        let text = LoadFormat.render(source)
        #expect(text == "EMPTY\nFULL k v 1\n")
        let document = try LoadFormat.parse(text)
        #expect(document.declaredTables == ["EMPTY"])
        #expect(document.tableNames == ["EMPTY", "FULL"])
        var target = Directory(epoch: 2, settings: .testing)
        for mutation in try target.mutations(loading: document) { _ = try target.commit(mutation) }
        #expect(target.table(named: "EMPTY")?.count == 0)
        #expect(target.entry(table: "FULL", key: "k") == Entry(key: "k", value: "v"))
        #expect(throws: LoadFormat.ParseError(line: 1, problem: .invalid(.invalidTableName(.dotName)))) {
            try LoadFormat.parse("..\n")
        }
    }

    @Test func loadRefusesAnUnfitDocument() throws {
        let directory = Directory(epoch: 1, settings: .testing)
        let document = LoadFormat.Document(items: [
            LoadFormat.Item(table: "T", entry: Entry(key: "k", value: "a b"))
        ])
        #expect(throws: DirectoryError.invalidValue(.forbiddenCharacter(" "))) {
            try directory.mutations(loading: document)
        }
    }
}
