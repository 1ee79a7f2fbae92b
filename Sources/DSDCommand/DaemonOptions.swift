import ArgumentParser
import DSDPosix
import DSDWire
import FoundationEssentials
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
/// missing.
func loadClusterKey(path: String, create: Bool) throws -> ClusterKey {
    if !FileManager.default.fileExists(atPath: path) {
        guard create else {
            throw ValidationError("cluster key file \(path) does not exist (create one with: dsd keygen > \(path))")
        }
        let key = ClusterKey.generate()
        let directory = Paths.parent(of: path)
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        do throws(PosixError) {
            try Streams.writeAll(Array((key.fileContents + "\n").utf8), to: fd, path: path)
            guard fsync(fd) == 0 else { throw PosixError(operation: "fsync \(path)", errno: errno) }
        } catch {
            throw ValidationError("cannot write \(path): \(error.reason)")
        }
        return key
    }
    let data: [UInt8]
    do throws(PosixError) {
        data = try Streams.readFile(path)
    } catch {
        throw ValidationError("cannot read cluster key file \(path): \(error.reason)")
    }
    do {
        return try ClusterKey(fileContents: data)
    } catch {
        throw ValidationError("cluster key file \(path): \(error)")
    }
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
