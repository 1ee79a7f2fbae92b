import Glibc

/// Unbuffered output and whole-input reads on file descriptors.
public enum Streams {
    /// Writes all of `text` to `fd`, retrying short writes and EINTR. Returns false on error.
    @discardableResult
    public static func write(_ text: String, to fd: Int32) -> Bool {
        do throws(PosixError) {
            try writeAll(Array(text.utf8), to: fd, path: "")
            return true
        } catch {
            return false
        }
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
    public static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(PosixError) {
        let failure: Int32? = bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return nil
        }
        if let failure { throw PosixError(operation: path.isEmpty ? "write" : "write \(path)", errno: failure) }
    }

    /// A line on standard error (unbuffered, so it is never lost on exit).
    public static func printError(_ text: String) {
        write(text + "\n", to: STDERR_FILENO)
    }

    /// The whole file at `path`.
    public static func readFile(_ path: String) throws(PosixError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PosixError(operation: "open", errno: errno) }
        defer { close(fd) }
        return try readAll(from: fd)
    }

    /// Everything readable from `fd` until end of file.
    public static func readAll(from fd: Int32) throws(PosixError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return result }
            if n < 0 {
                if errno == EINTR { continue }
                throw PosixError(operation: "read", errno: errno)
            }
            result += chunk[0..<n]
        }
    }
}

/// A failed system call: which one and its errno.
public struct PosixError: Error, Sendable, Equatable, CustomStringConvertible {
    public let operation: String
    public let errno: Int32

    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    /// What went wrong, as the C library says it ("No such file or directory").
    public var reason: String { String(cString: strerror(errno)) }

    public var description: String { "\(operation): \(reason)" }
}
