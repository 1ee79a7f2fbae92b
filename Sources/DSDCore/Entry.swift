/// One row of a table: `key → value + valid` (FIG. 2A–2G).
public struct Entry: Hashable, Sendable, CustomStringConvertible {
    public var key: String
    public var value: String
    public var valid: Bool

    public init(key: String, value: String, valid: Bool = true) {
        self.key = key
        self.value = value
        self.valid = valid
    }

    public var description: String { "\(key) \(value) \(valid ? 1 : 0)" }
}
