import Testing

@testable import DSDFuse

@Suite struct FileTreeTests {
    @Test func namesMapToNodesBySyntax() {
        #expect(NodeKind.root.child(named: "tables") == .tablesDir)
        #expect(NodeKind.root.child(named: "other") == nil)
        #expect(NodeKind.tablesDir.child(named: "T") == .table("T"))
        #expect(NodeKind.table("T").child(named: "MDS.1") == .entry(table: "T", key: "MDS.1"))
        #expect(NodeKind.table("T").child(named: "a b") == nil)
        #expect(NodeKind.partTable("P").child(named: "6") == .part(table: "P", number: 6))
        #expect(NodeKind.partTable("P").child(named: "06") == nil)
        #expect(NodeKind.partTable("P").child(named: "x") == nil)
        #expect(NodeKind.eventsTable("T").child(named: ".all") == .events(table: "T", prefix: ""))
        #expect(NodeKind.eventsTable("T").child(named: "MDS") == .events(table: "T", prefix: "MDS"))
        #expect(NodeKind.entry(table: "T", key: "k").child(named: "x") == nil)
    }

    @Test func pathsRoundTrip() {
        let kinds: [NodeKind] = [
            .status, .entry(table: "T", key: "k"), .find("MDS.1"), .part(table: "P", number: 3),
            .events(table: "T", prefix: ""), .events(table: "T", prefix: "MDS"),
        ]
        for kind in kinds {
            var node = NodeKind.root
            for name in kind.relativePath.split(separator: "/") { node = node.child(named: String(name))! }
            #expect(node == kind)
        }
        #expect(NodeKind.events(table: "T", prefix: "").relativePath == "events/T/.all")
    }

    @Test func inodesAreStableCountedAndNeverReused() {
        var tree = FileTree()
        #expect(tree.ino(of: .root) == FileTree.rootIno)
        let entry = NodeKind.entry(table: "T", key: "k")
        let first = tree.remember(entry)
        #expect(tree.remember(entry) == first)
        #expect(tree.lookups(of: first) == 2)
        tree.forget(first, count: 1)
        #expect(tree.kind(of: first) == entry)
        tree.forget(first, count: 1)
        #expect(tree.kind(of: first) == nil)
        let second = tree.remember(entry)
        #expect(second != first && second > first)
        tree.forget(FileTree.rootIno, count: 5)
        #expect(tree.kind(of: FileTree.rootIno) == .root)
    }

    @Test func resolvedNodesListsFindAndPartOnly() {
        var tree = FileTree()
        let find = tree.remember(.find("MDS.1"))
        let part = tree.remember(.part(table: "P", number: 1))
        _ = tree.remember(.entry(table: "T", key: "k"))
        #expect(Set(tree.resolvedNodes().map(\.0)) == [find, part])
    }
}

@Suite struct EventQueueTests {
    @Test func linesAndOverflow() {
        var queue = EventQueue(bound: 3)
        queue.push(EventLine.add(.init(key: "a", value: "1")))
        queue.push(EventLine.delete("b"))
        #expect(String(decoding: queue.take(maxBytes: 4096), as: UTF8.self) == "ADD a 1 1\nDEL b\n")
        #expect(queue.isEmpty)
        for index in 0..<4 { queue.push(EventLine.delete("k\(index)")) }
        #expect(queue.overflows == 1)
        queue.push(EventLine.delete("z"))
        #expect(String(decoding: queue.take(maxBytes: 4096), as: UTF8.self) == "RESCAN\nDEL z\n")
    }

    @Test func takeReturnsWholeLinesWithinTheSize() {
        var queue = EventQueue(bound: 10)
        queue.push(EventLine.delete("one"))
        queue.push(EventLine.delete("two"))
        #expect(queue.take(maxBytes: 10) == Array("DEL one\n".utf8))
        #expect(queue.take(maxBytes: 3) == Array("DEL".utf8))
        #expect(queue.take(maxBytes: 10) == Array(" two\n".utf8))
        #expect(queue.take(maxBytes: 10).isEmpty)
    }
}
