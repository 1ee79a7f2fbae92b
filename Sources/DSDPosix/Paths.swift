/// Path arithmetic on plain strings.
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
}
