/// The plain text format of `dsd load` and `dsd dump`.
///
/// One entry a line, fields separated by spaces or tabs:
///
///     # comment
///     DSD_HOST_ROUTE   HOST9.0  16.7.13.1   1
///     DSD_MTID_METADATA MDS.1   HOST9:1872
///
/// `TABLE KEY VALUE [VALID]`, VALID `1` or `0` and `1` when omitted. A line of a table name
/// alone declares that table (a dump writes one for every empty table other than the standard
/// ones, which always exist, so a backup keeps empty tables). Blank lines and lines whose
/// first non-blank character is `#` are ignored (a `#` inside a field is data). A line ending
/// in `\r\n` is accepted. Names, keys and values obey `Validation`.
public enum LoadFormat {
    /// One entry line.
    public struct Item: Hashable, Sendable {
        public var table: String
        public var entry: Entry
        /// 1-based line number in the parsed text (0 for items not parsed from text).
        public var line: Int

        public init(table: String, entry: Entry, line: Int = 0) {
            self.table = table
            self.entry = entry
            self.line = line
        }
    }

    /// A parsed text.
    public struct Document: Hashable, Sendable {
        public var items: [Item]
        /// Tables named on a line of their own, in order (they may have no entries).
        public var declaredTables: [String]

        public init(items: [Item], declaredTables: [String] = []) {
            self.items = items
            self.declaredTables = declaredTables
        }

        /// The distinct table names, declared ones first, then in order of first appearance.
        public var tableNames: [String] {
            var seen: Set<ExactKey> = []
            return (declaredTables + items.map(\.table)).filter { seen.insert(ExactKey($0)).inserted }
        }

        /// The table names the document uses that `directory` does not have, in order of
        /// first appearance: they are created on load.
        public func tablesToCreate(in directory: Directory) -> [String] {
            tableNames.filter { directory.table(named: $0) == nil }
        }
    }

    /// A line that could not be parsed.
    public struct ParseError: Error, Hashable, Sendable {
        public enum Problem: Hashable, Sendable {
            /// The line has this many fields instead of 1, 3 or 4.
            case fieldCount(Int)
            /// The VALID field is not `0` or `1`.
            case invalidValid(String)
            /// The table name, key or value breaks a rule.
            case invalid(DirectoryError)
        }

        /// 1-based line number.
        public var line: Int
        public var problem: Problem
    }

    /// What one line holds.
    public enum Line: Hashable, Sendable {
        /// A blank line or a comment.
        case nothing
        /// A table name alone: the table exists, even without entries.
        case table(String)
        case item(Item)
    }

    /// Parses a whole text.
    public static func parse(_ text: String) throws(ParseError) -> Document {
        var items: [Item] = []
        var declared: [String] = []
        var number = 0
        // "\r\n" is a single Character, so both separators are named.
        for rawLine in text.split(
            omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        {
            number += 1
            switch try parseLine(rawLine, number: number) {
            case .nothing: continue
            case .table(let name): declared.append(name)
            case .item(let item): items.append(item)
            }
        }
        return Document(items: items, declaredTables: declared)
    }

    /// Parses line `number` (1-based), without its newline; a trailing `\r` is dropped.
    public static func parseLine(_ rawLine: Substring, number: Int) throws(ParseError) -> Line {
        var line = rawLine
        if line.last == "\r" { line = line.dropLast() }
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if fields.isEmpty || fields[0].hasPrefix("#") { return .nothing }
        if fields.count == 1 {
            do throws(DirectoryError) { try Validation.checkTableName(String(fields[0])) } catch {
                throw ParseError(line: number, problem: .invalid(error))
            }
            return .table(String(fields[0]))
        }
        guard fields.count == 3 || fields.count == 4 else {
            throw ParseError(line: number, problem: .fieldCount(fields.count))
        }
        var valid = true
        if fields.count == 4 {
            switch fields[3] {
            case "1": valid = true
            case "0": valid = false
            default: throw ParseError(line: number, problem: .invalidValid(String(fields[3])))
            }
        }
        let item = Item(
            table: String(fields[0]),
            entry: Entry(key: String(fields[1]), value: String(fields[2]), valid: valid),
            line: number)
        do {
            try Validation.checkTableName(item.table)
            try Validation.checkEntry(item.entry)
        } catch {
            throw ParseError(line: number, problem: .invalid(error))
        }
        return .item(item)
    }

    /// Renders tables in the given order: an empty table as its name alone (standard tables
    /// are left out then: they exist everywhere), others as their entries.
    public static func render(tables: [(name: String, entries: [Entry])]) -> String {
        let standard = Set(StandardTable.allCases.map(\.name))
        var text = ""
        for table in tables {
            if table.entries.isEmpty {
                if !standard.contains(table.name) { text += "\(table.name)\n" }
            } else {
                text += render(table.entries.map { Item(table: table.name, entry: $0) })
            }
        }
        return text
    }

    /// Renders items, one line each, VALID always written.
    public static func render(_ items: [Item]) -> String {
        var text = ""
        for item in items {
            text +=
                "\(item.table) \(item.entry.key) \(item.entry.value) \(item.entry.valid ? 1 : 0)\n"
        }
        return text
    }

    /// Renders every entry of a directory: tables by name, entries in key order.
    public static func render(_ directory: Directory) -> String {
        render(tables: directory.tableNames.map { ($0, directory.table(named: $0)?.allEntries ?? []) })
    }
}

extension LoadFormat.ParseError: CustomStringConvertible {
    public var description: String {
        switch problem {
        case .fieldCount(let count):
            "line \(line): expected `TABLE KEY VALUE [VALID]` or a table name alone, found \(count) fields"
        case .invalidValid(let text):
            "line \(line): VALID must be 0 or 1, not '\(text)'"
        case .invalid(let error):
            "line \(line): \(error)"
        }
    }
}
