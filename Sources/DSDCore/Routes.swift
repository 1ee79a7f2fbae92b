/// A server route (FIG. 2A–2C values): a host name and the server's identity on that host,
/// `HOST9:1872` or `HOST9:1872:extra-identity`.
public struct ServerRoute: Hashable, Sendable, CustomStringConvertible {
    /// The host name, a key prefix of `DSD_HOST_ROUTE` (`HOST9`).
    public var host: String
    /// Everything after the first `:`: the port and any further identity (`1872`,
    /// `1872:objkey`).
    public var identity: String

    public init(host: String, identity: String) {
        self.host = host
        self.identity = identity
    }

    /// Parses `HOST:IDENTITY`; both parts must be non-empty.
    public init?(parsing value: String) {
        guard let colon = value.firstIndex(of: ":") else { return nil }
        let host = value[..<colon]
        let identity = value[value.index(after: colon)...]
        guard !host.isEmpty, !identity.isEmpty else { return nil }
        self.host = String(host)
        self.identity = String(identity)
    }

    public var description: String { "\(host):\(identity)" }
}

/// A complete server route (FIG. 5B): the server route with its host name replaced by the
/// host's current network route, `16.7.13.1:1872`.
public struct CompleteRoute: Hashable, Sendable, CustomStringConvertible {
    /// The network route of the host (`16.7.13.1`).
    public var address: String
    /// The server's identity on the host (`1872`).
    public var identity: String

    public init(address: String, identity: String) {
        self.address = address
        self.identity = identity
    }

    public var description: String { "\(address):\(identity)" }
}

/// Why find-server found no complete route.
public enum FindError: Error, Hashable, Sendable {
    /// No server table holds the name.
    case noSuchInstance(String)
    /// The entry exists but is invalid.
    case noValidServer(String)
    /// The server's host has no valid route in `DSD_HOST_ROUTE`.
    case noValidRoute(host: String)
    /// The entry's value is not a server route `HOST:IDENTITY`.
    case malformedRoute(String)
    /// The table asked for does not exist.
    case noSuchTable(TableID)
}

/// Ordering of keys that end in a number: `HOST9.2` before `HOST9.10`.
enum KeyOrder {
    /// Splits `key` at its last `.`; nil when it has none.
    static func lastComponent(of key: String) -> (parent: Substring, last: Substring)? {
        guard let dot = key.lastIndex(of: ".") else { return nil }
        return (key[..<dot], key[key.index(after: dot)...])
    }

    static func isNumber(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// Orders sibling keys by their last component: numerically when both are numbers (of any
    /// length, without overflow), else by bytes; ties broken by the whole key's bytes.
    static func siblingPrecedes(_ a: String, _ b: String) -> Bool {
        if let x = lastComponent(of: a)?.last, let y = lastComponent(of: b)?.last,
            isNumber(x), isNumber(y)
        {
            let xs = x.drop { $0 == "0" }
            let ys = y.drop { $0 == "0" }
            if xs.utf8.count != ys.utf8.count { return xs.utf8.count < ys.utf8.count }
            if !xs.utf8.elementsEqual(ys.utf8) { return xs.utf8.lexicographicallyPrecedes(ys.utf8) }
        }
        return ExactKey(a) < ExactKey(b)
    }
}
