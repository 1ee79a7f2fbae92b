import Glibc

/// An exclusive `flock` on a lock file, held until `release()` or the process ends (the kernel
/// drops it with the descriptor, also on SIGKILL, so a crash never leaves a stale lock).
///
/// The holder writes its pid into the file, so the process that is refused can say who holds
/// it. The file is never removed: unlinking a lock file lets a third process lock a new file
/// of the same name while the second still holds the old one.
public final class LockFile: Sendable {
    public let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// Why a lock could not be taken.
    public enum Failure: Error, Sendable, Equatable {
        /// Another process holds it; `pid` as it wrote it into the file (if readable).
        case held(path: String, pid: Int32?)
        /// The file or its directory cannot be created, opened or locked.
        case unusable(PosixError)
    }

    /// Takes the lock at `path` (creating the file, mode 0644, and its missing directories)
    /// without waiting.
    public static func acquire(_ path: String) throws(Failure) -> LockFile {
        do throws(PosixError) {
            try Paths.makeDirectories(Paths.parent(of: path))
        } catch {
            throw .unusable(error)
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .unusable(PosixError(operation: "open \(path)", errno: errno)) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let holder = readPID(fd)
            close(fd)
            if reason == EWOULDBLOCK { throw .held(path: path, pid: holder) }
            throw .unusable(PosixError(operation: "lock \(path)", errno: reason))
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return LockFile(path: path, fd: fd)
    }

    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let digits = buffer.prefix(count).prefix { $0 >= 0x30 && $0 <= 0x39 }
        return Int32(String(decoding: digits, as: UTF8.self))
    }
}

extension LockFile.Failure: CustomStringConvertible {
    /// A sentence naming the file and the holder.
    public var description: String {
        switch self {
        case .held(let path, let pid):
            let holder = pid.map { "process \($0)" } ?? "another process"
            return "\(path) is locked by \(holder)"
        case .unusable(let error):
            return "cannot \(error.operation): \(error.reason)"
        }
    }
}
