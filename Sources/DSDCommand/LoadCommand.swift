import ArgumentParser
import DSDClient
import DSDCore
import DSDPosix
import DSDWire
import Glibc

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Add the entries of a text file (one `TABLE KEY VALUE [VALID]` a line).",
        discussion: """
            Examples:
              dsd load mount-examples/seed-tables.txt
              dsd load --check big.txt          (parse and check only, write nothing)
              generate-entries | dsd load -

            The input is read as a stream and committed in batches of --batch entries, each
            all or none under one version. A line of a table name alone creates that table
            even without entries; tables that do not exist are created before their first
            batch. A bad line stops the load: the batch it would have joined is not sent,
            and the message says which lines were loaded (loading the file again after
            fixing it is safe: a put of the same entry changes nothing). On a terminal a
            progress line shows entries/s and the time left.
            """
    )
    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Entries per batch (1–\(Limits.maxBatchOperations)).")
    var batch: Int = 5000
    @Flag(name: .long, help: "Parse and check the whole file, write nothing.")
    var check = false
    @Argument(help: "File to load; - for standard input.") var file: String

    func validate() throws {
        guard (1...Limits.maxBatchOperations).contains(batch) else {
            throw ValidationError("--batch must be between 1 and \(Limits.maxBatchOperations), not \(batch)")
        }
    }

    func run() throws {
        let fd = file == "-" ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            printError("dsd: cannot read \(file): \(String(cString: strerror(errno)))")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        defer { if fd != STDIN_FILENO { close(fd) } }
        var load = Load(
            file: file, reader: LineReader(fd: fd), batcher: LoadBatcher(size: batch),
            progress: LoadProgress(totalBytes: Self.regularFileSize(fd), shown: isatty(STDERR_FILENO) == 1))
        if check {
            try load.check()
        } else {
            try load.run(connection: try client.connect())
        }
    }

    static func regularFileSize(_ fd: Int32) -> Int? {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }
}

/// One run of `dsd load`: lines in, batches out, with what has been loaded so far.
struct Load {
    let file: String
    var reader: LineReader
    var batcher: LoadBatcher
    var progress: LoadProgress
    private var number = 0
    private var loaded = 0
    private var lastLoadedLine = 0
    private var tables: Set<String> = []

    init(file: String, reader: LineReader, batcher: LoadBatcher, progress: LoadProgress) {
        self.file = file
        self.reader = reader
        self.batcher = batcher
        self.progress = progress
    }

    /// The next line's content, or nil at the end; a bad line ends the load.
    private mutating func nextLine() throws -> LoadFormat.Line? {
        let bytes: ArraySlice<UInt8>?
        do throws(PosixError) { bytes = try reader.next() } catch {
            throw failure("cannot read \(file): \(error.reason)", status: .usage)
        }
        guard let bytes else { return nil }
        number += 1
        do throws(LoadFormat.ParseError) {
            return try LoadFormat.parseLine(String(decoding: bytes, as: UTF8.self)[...], number: number)
        } catch {
            throw failure("\(file), \(error.description); \(loadedSoFar)", status: .rejected)
        }
    }

    mutating func check() throws {
        var entries = 0
        var names: Set<String> = []
        while let line = try nextLine() {
            switch line {
            case .nothing: continue
            case .table(let name): names.insert(name)
            case .item(let item):
                entries += 1
                names.insert(item.table)
            }
        }
        print("\(file): \(entries) entries in \(names.count) tables, every line is well formed (nothing was written)")
    }

    mutating func run(connection: AgentClient) throws {
        tables = Set(try runClient { try connection.tables() })
        while let line = try nextLine() {
            switch line {
            case .nothing: continue
            case .table(let name): try create(name, connection)
            case .item(let item):
                if let full = batcher.add(item) { try send(full, connection) }
            }
        }
        if let last = batcher.finish() { try send(last, connection) }
        progress.clear()
        print("loaded \(loaded) entries in \(progress.elapsedText) (\(progress.rateText(loaded)))")
    }

    private mutating func create(_ table: String, _ connection: AgentClient) throws {
        guard !tables.contains(table) else { return }
        do throws(ClientError) {
            _ = try connection.createTable(table)
        } catch {
            // Another writer may have created it meanwhile.
            guard case .failed(.tableExists, _) = error else {
                throw failure(
                    "cannot create table \(table): \(ExitStatus.describe(error).1); \(loadedSoFar)", status: .rejected)
            }
        }
        tables.insert(table)
    }

    private mutating func send(_ batch: LoadBatcher.Batch, _ connection: AgentClient) throws {
        for table in batch.tables.sorted() { try create(table, connection) }
        do throws(ClientError) {
            _ = try connection.batch(batch.writes)
        } catch {
            throw failure(describe(error, batch), status: ExitStatus.describe(error).0)
        }
        loaded += batch.writes.count
        lastLoadedLine = batch.lines.last ?? lastLoadedLine
        progress.update(entries: loaded, bytes: reader.bytesRead)
    }

    /// A refused batch, naming the line of the operation refused when it is known.
    private func describe(_ error: ClientError, _ batch: LoadBatcher.Batch) -> String {
        let first = batch.lines.first ?? 0
        let last = batch.lines.last ?? 0
        let index: Int? =
            switch error {
            case .failedInBatch(let index, _, _): index
            case .invalid(.inBatch(let index, _)): index
            case .invalid(.invalidBatch(.keyTwice(let index, _))): index
            default: nil
            }
        let reason = ExitStatus.describe(error).1
        if let index, batch.lines.indices.contains(index) {
            return "\(file), line \(batch.lines[index]): \(reason); \(loadedSoFar)"
        }
        return "\(file), the batch of lines \(first)–\(last): \(reason); \(loadedSoFar)"
    }

    private var loadedSoFar: String {
        loaded == 0
            ? "nothing was loaded"
            : "\(loaded) entries were loaded (up to line \(lastLoadedLine)), nothing after that"
    }

    private func failure(_ message: String, status: ExitStatus) -> ExitCode {
        progress.clear()
        printError("dsd: \(message)")
        return ExitCode(status.rawValue)
    }
}
