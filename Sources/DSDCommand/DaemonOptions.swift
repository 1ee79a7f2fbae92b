import ArgumentParser
import DSDPosix
import DSDWire
import Glibc
import Logging

/// Options every long-running command shares.
struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func makeLogger(_ label: String) -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Reads the cluster key, or creates one (mode 0600) when `create` is set and the file is
/// missing. A key file its group or others may read is refused, as ssh refuses such a private
/// key: whoever reads the key can join the cluster.
func loadClusterKey(path: String, create: Bool) throws(CommandError) -> ClusterKey {
    var st = stat()
    guard stat(path, &st) == 0 else {
        guard errno == ENOENT else {
            throw .clusterKeyUnreadable(path: path, PosixError(operation: "stat \(path)", errno: errno))
        }
        guard create else { throw .clusterKeyMissing(path: path) }
        return try createClusterKey(path: path)
    }
    guard st.st_mode & 0o077 == 0 else { throw .clusterKeyExposed(path: path, mode: st.st_mode) }
    let data: [UInt8]
    do throws(PosixError) {
        data = try Streams.readFile(path)
    } catch {
        throw .clusterKeyUnreadable(path: path, error)
    }
    do throws(ClusterKeyError) {
        return try ClusterKey(fileContents: data)
    } catch {
        throw .clusterKeyInvalid(path: path, error)
    }
}

/// Writes a fresh key to `path` (mode 0600), creating its directory.
private func createClusterKey(path: String) throws(CommandError) -> ClusterKey {
    let key = ClusterKey.generate()
    let directory = Paths.parent(of: path)
    if !directory.isEmpty {
        do throws(PosixError) { try Paths.makeDirectories(directory) } catch {
            throw .cannotCreateDirectory(path: directory, error)
        }
    }
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    guard fd >= 0 else { throw .cannotWrite(path: path, PosixError(operation: "open \(path)", errno: errno)) }
    defer { close(fd) }
    do throws(PosixError) {
        try Streams.writeAll(Array((key.fileContents + "\n").utf8), to: fd, path: path)
        guard fsync(fd) == 0 else { throw PosixError(operation: "fsync \(path)", errno: errno) }
    } catch {
        throw .cannotWrite(path: path, error)
    }
    return key
}

/// Splits `HOST:PORT`.
func parseAddress(_ text: String, option: String) throws -> (host: String, port: Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
        (0...65535).contains(port), colon != text.startIndex
    else {
        throw ValidationError("\(option) expects HOST:PORT, got '\(text)'")
    }
    return (String(text[..<colon]), port)
}

/// The machine's short host name.
func localHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
    let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return String(name.split(separator: ".").first ?? "localhost")
}
