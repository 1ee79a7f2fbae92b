/// The position of a change in the directory's history.
///
/// `epoch` changes when a new directory takes over the history (a restart that could not prove
/// continuity, or a failover); `index` counts changes within the epoch. Versions order
/// lexicographically, so every change a replica has seen is below its current version.
public struct Version: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var epoch: UInt64
    public var index: UInt64

    public init(epoch: UInt64, index: UInt64) {
        self.epoch = epoch
        self.index = index
    }

    /// The version of an empty directory that has never changed.
    public static let zero = Version(epoch: 0, index: 0)

    public static func < (lhs: Version, rhs: Version) -> Bool {
        lhs.epoch != rhs.epoch ? lhs.epoch < rhs.epoch : lhs.index < rhs.index
    }

    public var description: String { "\(epoch).\(index)" }

    /// Parses `E.I`, the form `description` (and `dsd status`) prints.
    public init?(text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let epoch = UInt64(parts[0]), let index = UInt64(parts[1]) else { return nil }
        self.init(epoch: epoch, index: index)
    }
}
