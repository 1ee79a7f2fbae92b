/// The compact numeric id of a table, used on the wire and in the log instead of its name.
///
/// The standard tables of the design document have fixed ids `1...8`; tables created at run
/// time get ids from `TableID.firstDynamic` upwards and are never reused within a directory's
/// history.
public struct TableID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static func < (lhs: TableID, rhs: TableID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Ids below this are reserved for the standard tables.
    public static let firstDynamic = TableID(1024)

    public var description: String { "#\(rawValue)" }
}
