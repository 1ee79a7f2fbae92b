import Glibc

/// Path arithmetic on plain strings, and `mkdir -p`.
public enum Paths {
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

    /// Creates `path` and its missing parents (`mkdir -p`). The error names the component
    /// that failed: `mkdir /tmp/f/x` with ENOTDIR when `/tmp/f` is a file.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(PosixError) {
        guard !path.isEmpty else { return }
        var st = stat()
        if stat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else { throw PosixError(operation: "mkdir \(path)", errno: ENOTDIR) }
            return
        }
        let parent = parent(of: path)
        if !parent.isEmpty, parent != path { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0, errno != EEXIST { throw PosixError(operation: "mkdir \(path)", errno: errno) }
    }
}
