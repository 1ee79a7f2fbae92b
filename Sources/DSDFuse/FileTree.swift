/// What a node of the mount is. A node is identified by its kind (its path), so a name that
/// disappears and comes back gets the same inode while the kernel still remembers it.
enum NodeKind: Hashable, Sendable {
    case root
    case tablesDir
    case findDir
    case partDir
    case eventsDir
    case status
    case table(String)
    case entry(table: String, key: String)
    case find(String)
    case partTable(String)
    case part(table: String, number: UInt64)
    case eventsTable(String)
    /// A subscription; the empty prefix (file name `EventsPrefix.wholeTable`) is the whole table.
    case events(table: String, prefix: String)

    var isDirectory: Bool {
        switch self {
        case .root, .tablesDir, .findDir, .partDir, .eventsDir, .table, .partTable, .eventsTable: true
        case .status, .entry, .find, .part, .events: false
        }
    }

    /// The fixed names of the root directory.
    static let rootChildren: [(String, NodeKind)] = [
        ("tables", .tablesDir), ("find", .findDir), ("part", .partDir), ("events", .eventsDir),
        ("status", .status),
    ]

    /// The node a name would denote under this directory, by syntax alone (`nil`: cannot
    /// exist). Whether it exists is the backend's business.
    func child(named name: String) -> NodeKind? {
        switch self {
        case .root:
            return Self.rootChildren.first { $0.0 == name }?.1
        case .tablesDir:
            return Names.isValidTable(name) ? .table(name) : nil
        case .table(let table):
            return Names.isValidKey(name) ? .entry(table: table, key: name) : nil
        case .findDir:
            return Names.isValidKey(name) ? .find(name) : nil
        case .partDir:
            return Names.isValidTable(name) ? .partTable(name) : nil
        case .partTable(let table):
            guard let number = UInt64(name), String(number) == name else { return nil }
            return .part(table: table, number: number)
        case .eventsDir:
            return Names.isValidTable(name) ? .eventsTable(name) : nil
        case .eventsTable(let table):
            if name == EventsPrefix.wholeTable { return .events(table: table, prefix: "") }
            return Names.isValidKey(name) ? .events(table: table, prefix: name) : nil
        case .status, .entry, .find, .part, .events:
            return nil
        }
    }

    /// The directory holding this node and the node's name in it.
    var parent: (NodeKind, String)? {
        switch self {
        case .root: nil
        case .tablesDir: (.root, "tables")
        case .findDir: (.root, "find")
        case .partDir: (.root, "part")
        case .eventsDir: (.root, "events")
        case .status: (.root, "status")
        case .table(let t): (.tablesDir, t)
        case .entry(let t, let k): (.table(t), k)
        case .find(let i): (.findDir, i)
        case .partTable(let t): (.partDir, t)
        case .part(let t, let n): (.partTable(t), String(n))
        case .eventsTable(let t): (.eventsDir, t)
        case .events(let t, let p): (.eventsTable(t), p.isEmpty ? EventsPrefix.wholeTable : p)
        }
    }

    /// Path relative to the mountpoint.
    var relativePath: String {
        guard let (parent, name) = parent else { return "" }
        let base = parent.relativePath
        return base.isEmpty ? name : base + "/" + name
    }
}

/// Names inside `events/<TABLE>/`.
public enum EventsPrefix {
    /// The file that subscribes to the whole table (the empty prefix). A leading dot keeps it
    /// out of `ls` and out of the way of real keys; prefix `.all` itself cannot be subscribed.
    public static let wholeTable = ".all"
}

/// The inode table: stable numbers for the nodes the kernel knows, with the kernel's lookup
/// counts. Numbers are never reused; a node is dropped when the kernel forgets it.
struct FileTree {
    static let rootIno: UInt64 = 1
    /// Fixed numbers of the main session's tree.
    static let fixed: [NodeKind: UInt64] = [
        .root: 1, .tablesDir: 2, .findDir: 3, .partDir: 4, .eventsDir: 5, .status: 6,
    ]
    /// Fixed numbers of the events session's tree, whose root is `events/`.
    static let fixedEvents: [NodeKind: UInt64] = [.eventsDir: 1]
    static let firstDynamicIno: UInt64 = 16

    private struct Node {
        var kind: NodeKind
        var lookups: UInt64
    }

    private var nodes: [UInt64: Node] = [:]
    private var inoByKind: [NodeKind: UInt64] = [:]
    private var nextIno = FileTree.firstDynamicIno

    /// A tree whose root (inode 1) is `root`: `.root` for the main session, `.eventsDir` for
    /// the events session.
    init(root: NodeKind = .root) {
        for (kind, ino) in root == .eventsDir ? Self.fixedEvents : Self.fixed {
            nodes[ino] = Node(kind: kind, lookups: 0)
            inoByKind[kind] = ino
        }
    }

    func kind(of ino: UInt64) -> NodeKind? { nodes[ino]?.kind }
    func ino(of kind: NodeKind) -> UInt64? { inoByKind[kind] }
    func lookups(of ino: UInt64) -> UInt64 { nodes[ino]?.lookups ?? 0 }

    /// Number of a node without counting a kernel reference (readdir, reflection).
    mutating func number(for kind: NodeKind) -> UInt64 {
        if let ino = inoByKind[kind] { return ino }
        let ino = nextIno
        nextIno += 1
        nodes[ino] = Node(kind: kind, lookups: 0)
        inoByKind[kind] = ino
        return ino
    }

    /// A successful lookup/create/mkdir reply hands the kernel one more reference.
    mutating func remember(_ kind: NodeKind) -> UInt64 {
        let ino = number(for: kind)
        nodes[ino]!.lookups += 1
        return ino
    }

    /// The kernel dropped `count` references; a dynamic node with none left is removed.
    mutating func forget(_ ino: UInt64, count: UInt64) {
        guard var node = nodes[ino] else { return }
        node.lookups = node.lookups > count ? node.lookups - count : 0
        if node.lookups == 0, ino >= Self.firstDynamicIno {
            nodes[ino] = nil
            inoByKind[node.kind] = nil
        } else {
            nodes[ino] = node
        }
    }

    /// Nodes the kernel may hold for `find/` and `part/`, invalidated on every change.
    func resolvedNodes() -> [(UInt64, NodeKind)] {
        nodes.compactMap { ino, node in
            switch node.kind {
            case .find, .part: (ino, node.kind)
            default: nil
            }
        }
    }
}
