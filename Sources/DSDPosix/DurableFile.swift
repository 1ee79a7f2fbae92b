import Glibc

/// Small whole files replaced atomically and durably: written to `PATH.tmp`, fsynced, renamed
/// over `PATH`, and the directory fsynced. A crash leaves the old file or the new one, never a
/// torn one.
public enum DurableFile {
    public static func replace(_ path: String, contents: [UInt8], mode: mode_t = 0o644) throws(PosixError) {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw PosixError(operation: "open \(temp)", errno: errno) }
        do throws(PosixError) {
            try Streams.writeAll(contents, to: fd, path: temp)
            guard fsync(fd) == 0 else { throw PosixError(operation: "fsync \(temp)", errno: errno) }
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        close(fd)
        guard rename(temp, path) == 0 else { throw PosixError(operation: "rename \(temp)", errno: errno) }
        let parent = Paths.parent(of: path)
        let directory = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw PosixError(operation: "open \(parent)", errno: errno) }
        defer { close(directory) }
        guard fsync(directory) == 0 else { throw PosixError(operation: "fsync \(parent)", errno: errno) }
    }
}
