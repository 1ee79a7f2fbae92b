import Glibc

/// Path arithmetic on plain strings, and creating directories.
public enum Paths {
    /// Creates `path` and any missing parents (mode 0755), like `mkdir -p`. Throws naming
    /// the directory that could not be made (e.g. a parent that is a file: ENOTDIR).
    public static func makeDirectories(_ path: String) throws(PosixError) {
        guard !path.isEmpty else { return }
        var st = stat()
        if stat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else { throw PosixError(operation: "mkdir \(path)", errno: ENOTDIR) }
            return
        }
        let up = parent(of: path)
        if !up.isEmpty, up != path { try makeDirectories(up) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw PosixError(operation: "mkdir \(path)", errno: errno)
        }
    }

    /// The directory part of `path`: "/run/dsd" for "/run/dsd/agent.sock", "" for "agent.sock",
    /// "/" for "/agent.sock".
    public static func parent(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        if slash == trimmed.startIndex { return "/" }
        var parent = trimmed[..<slash]
        while parent.count > 1, parent.hasSuffix("/") { parent = parent.dropLast() }
        return String(parent)
    }
}
