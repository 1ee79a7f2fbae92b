import Glibc

/// Thin typed-error wrappers over the POSIX calls the log needs.
enum Posix {
    static func fail(_ operation: String, _ path: String) -> LogError {
        .io(operation: operation, path: path, errno: errno)
    }

    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(LogError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw fail("open", path) }
        }
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Writes all of `bytes` at `offset`.
    static func pwriteAll(
        _ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String
    ) throws(LogError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("pwrite", path)
            }
            done += n
        }
    }

    /// Writes `count` zero bytes starting at `offset`.
    static func zeroFill(_ fd: Int32, from offset: Int64, count: Int64, path: String) throws(LogError) {
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        var done: Int64 = 0
        while done < count {
            let n = Int(Swift.min(Int64(chunk.count), count - done))
            try chunk.withRawBytes { (b) throws(LogError) in
                try pwriteAll(fd, UnsafeRawBufferPointer(rebasing: b[0..<n]), at: offset + done, path: path)
            }
            done += Int64(n)
        }
    }

    static func fdatasync(_ fd: Int32, path: String) throws(LogError) {
        while Glibc.fdatasync(fd) != 0 {
            if errno != EINTR { throw fail("fdatasync", path) }
        }
    }

    static func fsync(_ fd: Int32, path: String) throws(LogError) {
        while Glibc.fsync(fd) != 0 {
            if errno != EINTR { throw fail("fsync", path) }
        }
    }

    /// fsync of a directory, making renames and unlinks in it durable.
    static func fsyncDirectory(_ path: String) throws(LogError) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, path: path)
    }

    static func ftruncate(_ fd: Int32, _ size: Int64, path: String) throws(LogError) {
        if Glibc.ftruncate(fd, off_t(size)) != 0 { throw fail("ftruncate", path) }
    }

    static func fileSize(_ fd: Int32, path: String) throws(LogError) -> Int64 {
        var st = stat()
        if fstat(fd, &st) != 0 { throw fail("fstat", path) }
        return Int64(st.st_size)
    }

    static func rename(_ from: String, _ to: String) throws(LogError) {
        if Glibc.rename(from, to) != 0 { throw fail("rename", from) }
    }

    static func unlink(_ path: String) throws(LogError) {
        if Glibc.unlink(path) != 0, errno != ENOENT { throw fail("unlink", path) }
    }

    /// Creates the directory if it does not exist (the parent must exist).
    static func ensureDirectory(_ path: String) throws(LogError) {
        if mkdir(path, 0o755) != 0, errno != EEXIST { throw fail("mkdir", path) }
    }

    /// Names of the entries of a directory, without "." and "..".
    static func list(_ path: String) throws(LogError) -> [String] {
        guard let dir = opendir(path) else { throw fail("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The whole content of a file.
    static func readAll(_ path: String) throws(LogError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        let size = Int(try fileSize(fd, path: path))
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + done, size - done, off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("pread", path)
            }
            if n == 0 { break }
            done += n
        }
        if done < size { bytes.removeLast(size - done) }
        return bytes
    }

    /// Creates `path` atomically and durably: write `name.tmp`, fsync, rename, fsync directory.
    /// Returns the open descriptor (O_RDWR) of the new file when `keepOpen`.
    @discardableResult
    static func createDurably(
        directory: String, name: String, contents: UnsafeRawBufferPointer, zeroFillTo: Int64,
        keepOpen: Bool
    ) throws(LogError) -> Int32? {
        let temp = directory + "/" + name + ".tmp"
        let final = directory + "/" + name
        try unlink(temp)
        let fd = try open(temp, O_RDWR | O_CREAT | O_EXCL)
        do {
            try pwriteAll(fd, contents, at: 0, path: temp)
            let written = Int64(contents.count)
            if zeroFillTo > written {
                try zeroFill(fd, from: written, count: zeroFillTo - written, path: temp)
            }
            try fsync(fd, path: temp)
            try rename(temp, final)
            try fsyncDirectory(directory)
        } catch {
            close(fd)
            try? unlink(temp)
            throw error
        }
        if keepOpen { return fd }
        close(fd)
        return nil
    }
}
