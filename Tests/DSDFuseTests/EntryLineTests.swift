import DSDCore
import Testing

@testable import DSDFuse

@Suite struct EntryLineTests {
    @Test(arguments: [
        ("HOST6:1920", "HOST6:1920", true), ("HOST6:1920\n", "HOST6:1920", true), ("v 1\n", "v", true),
        ("v 0", "v", false), ("v 0\r\n", "v", false), ("16.7.13.1:1872 1\n", "16.7.13.1:1872", true),
    ])
    func acceptsValueWithOptionalValidity(_ text: String, _ value: String, _ valid: Bool) throws {
        let line = try EntryLine.parse(Array(text.utf8))
        #expect(line.value == value && line.valid == valid)
    }

    @Test(arguments: ["", "\n", "a b c", "v 2", "v  1", " v", "two\nlines", "tab\tinside", "v 1\n\n"])
    func rejectsMalformedLines(_ text: String) {
        #expect(throws: EntryLineError.malformed) { try EntryLine.parse(Array(text.utf8)) }
    }

    @Test func rejectsBinaryAndOversize() {
        #expect(throws: EntryLineError.malformed) { try EntryLine.parse([0xFF, 0xFE, 0x41]) }
        #expect(throws: EntryLineError.malformed) { try EntryLine.parse([0x41, 0x00, 0x42]) }
        let atLimit = [UInt8](repeating: UInt8(ascii: "x"), count: Limits.maxValueBytes)
        #expect((try? EntryLine.parse(atLimit))?.value.utf8.count == Limits.maxValueBytes)
        #expect(throws: EntryLineError.tooLong) { try EntryLine.parse(atLimit + [UInt8(ascii: "x")]) }
        #expect(throws: EntryLineError.tooLong) { try EntryLine.parse([UInt8](repeating: 0x41, count: 5000)) }
    }

    @Test func contentRoundTripsThroughParse() throws {
        let entry = Entry(key: "MDS.1", value: "16.7.13.1:1872", valid: false)
        let content = EntryLine.content(of: entry)
        #expect(String(decoding: content, as: UTF8.self) == "16.7.13.1:1872 0\n")
        let parsed = try EntryLine.parse(content)
        #expect(Entry(key: "MDS.1", value: parsed.value, valid: parsed.valid) == entry)
    }
}

@Suite struct NamesTests {
    @Test func validatesKeysAndTables() {
        #expect(Names.isValidKey("MDS.1.0") && Names.isValidKey("0") && Names.isValidTable("DSD_MTID_METADATA"))
        for bad in ["", ".", "..", "a/b", "a b", "a\nb", "a\u{0}b", "a\tb", "a\u{7F}"] {
            #expect(!Names.isValidKey(bad), "\(bad.debugDescription)")
        }
        #expect(throws: NameError.tooLong) {
            try Names.validateKey(String(repeating: "k", count: Limits.maxKeyBytes + 1))
        }
        #expect(throws: NameError.invalid) { try Names.validateTable("a b") }
    }
}

@Suite struct FuseErrnoTests {
    @Test func mapsEveryFailure() {
        #expect(FuseErrno.of(BackendError.noSuchTable) == 2)
        #expect(FuseErrno.of(BackendError.noSuchEntry) == 2)
        #expect(FuseErrno.of(BackendError.invalidArgument("x")) == 22)
        #expect(FuseErrno.of(BackendError.unavailable("down")) == 5)
        #expect(FuseErrno.of(BackendError.timedOut) == 110)
        #expect(FuseErrno.of(BackendError.exists) == 17)
        #expect(FuseErrno.of(BackendError.notPermitted) == 1)
        #expect(FuseErrno.of(BackendError.notEmpty) == 39)
        #expect(FuseErrno.of(BackendError.limitReached) == 28)
        #expect(FuseErrno.of(ResolveFailure.notFound) == 2)
        #expect(FuseErrno.of(ResolveFailure.unreachable) == 113)
        #expect(FuseErrno.of(NameError.tooLong) == 36)
        #expect(FuseErrno.of(EntryLineError.malformed) == 22)
    }

}
