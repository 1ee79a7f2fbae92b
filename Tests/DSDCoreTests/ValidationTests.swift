import Testing

@testable import DSDCore

@Suite struct ValidationTests {
    @Test func acceptsDesignDocumentNames() throws {
        for key in ["MDS.1", "MDS.1.0", "HOST9.0", "0", "GW.1", "a..b", ".hidden", "ключ"] {
            try Validation.checkKey(key)
        }
        for value in ["HOST9:1872", "16.7.13.1", "HOST9:1872:obj/key#1", "MDS.1"] {
            try Validation.checkValue(value)
        }
        try Validation.checkTableName("DSD_MTID_METADATA")
    }

    @Test(arguments: [
        ("", DirectoryError.invalidKey(.empty)),
        (".", .invalidKey(.dotName)),
        ("..", .invalidKey(.dotName)),
        ("a/b", .invalidKey(.forbiddenCharacter("/"))),
        ("a\0b", .invalidKey(.forbiddenCharacter("\0"))),
        ("a\nb", .invalidKey(.forbiddenCharacter("\n"))),
        ("a b", .invalidKey(.forbiddenCharacter(" "))),
        ("a\tb", .invalidKey(.forbiddenCharacter("\t"))),
        ("a\u{7F}", .invalidKey(.forbiddenCharacter("\u{7F}"))),
        ("a\u{00A0}b", .invalidKey(.forbiddenCharacter("\u{00A0}"))),
        (
            String(repeating: "k", count: Limits.maxKeyBytes + 1),
            .keyTooLong(bytes: Limits.maxKeyBytes + 1)
        ),
    ])
    func rejectsBadKeys(key: String, expected: DirectoryError) {
        #expect(throws: expected) { try Validation.checkKey(key) }
    }

    @Test func keyLengthCountsBytes() throws {
        try Validation.checkKey(String(repeating: "k", count: Limits.maxKeyBytes))
        // 128 two-byte characters are 256 bytes.
        #expect(throws: DirectoryError.keyTooLong(bytes: 256)) {
            try Validation.checkKey(String(repeating: "é", count: 128))
        }
    }

    @Test(arguments: [
        ("", DirectoryError.invalidValue(.empty)),
        ("HOST9:1872 1", .invalidValue(.forbiddenCharacter(" "))),
        ("HOST9\n", .invalidValue(.forbiddenCharacter("\n"))),
        ("x\0", .invalidValue(.forbiddenCharacter("\0"))),
        (
            String(repeating: "v", count: Limits.maxValueBytes + 1),
            .valueTooLong(bytes: Limits.maxValueBytes + 1)
        ),
    ])
    func rejectsBadValues(value: String, expected: DirectoryError) {
        #expect(throws: expected) { try Validation.checkValue(value) }
    }

    @Test func valueAtLimitIsAccepted() throws {
        try Validation.checkValue(String(repeating: "v", count: Limits.maxValueBytes))
    }

    @Test func tableNameRules() throws {
        #expect(throws: DirectoryError.invalidTableName(.empty)) {
            try Validation.checkTableName("")
        }
        #expect(throws: DirectoryError.invalidTableName(.dotName)) {
            try Validation.checkTableName("..")
        }
        #expect(throws: DirectoryError.invalidTableName(.forbiddenCharacter("/"))) {
            try Validation.checkTableName("A/B")
        }
        #expect(throws: DirectoryError.invalidTableName(.forbiddenCharacter(" "))) {
            try Validation.checkTableName("A B")
        }
        let long = String(repeating: "T", count: Limits.maxTableNameBytes + 1)
        #expect(throws: DirectoryError.tableNameTooLong(bytes: Limits.maxTableNameBytes + 1)) {
            try Validation.checkTableName(long)
        }
        try Validation.checkTableName(String(repeating: "T", count: Limits.maxTableNameBytes))
    }
}
