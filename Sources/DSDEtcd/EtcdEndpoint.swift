/// One etcd member's client URL, `http://host:port`. Only plain HTTP: the members are reached
/// on a trusted network (TLS would be a later addition).
public struct EtcdEndpoint: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `http://host:port` (the port defaults to 2379, etcd's client port); nil for any
    /// other shape (another scheme, a path, a port out of range).
    public init?(url: String) {
        let scheme = "http://"
        guard url.hasPrefix(scheme) else { return nil }
        var rest = Substring(url.dropFirst(scheme.count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/") else { return nil }
        if rest.hasPrefix("[") {
            // An IPv6 literal: [::1]:2379.
            guard let close = rest.firstIndex(of: "]") else { return nil }
            let host = rest[rest.index(after: rest.startIndex)..<close]
            let tail = rest[rest.index(after: close)...]
            guard !host.isEmpty, let port = Self.port(tail.isEmpty ? nil : tail) else { return nil }
            self.init(host: String(host), port: port)
            return
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty,
            let port = Self.port(parts.count == 2 ? ":" + parts[1] : nil)
        else { return nil }
        self.init(host: String(parts[0]), port: port)
    }

    /// A comma-separated list of URLs, as `--etcd` takes them; nil if any is malformed or the
    /// list is empty.
    public static func list(_ text: String) -> [EtcdEndpoint]? {
        let urls = text.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        let endpoints = urls.compactMap { EtcdEndpoint(url: String($0)) }
        guard !endpoints.isEmpty, endpoints.count == urls.count else { return nil }
        return endpoints
    }

    private static func port(_ tail: Substring?) -> Int? {
        guard let tail else { return 2379 }
        guard tail.hasPrefix(":"), let port = Int(tail.dropFirst()), (1...65535).contains(port) else { return nil }
        return port
    }

    public var description: String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }

    /// The `Host` header's value.
    var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var text = self
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
