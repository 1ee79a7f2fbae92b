import Glibc
import Testing

@testable import DSDFuse

extension BridgeStateTests {
    @Test func theEventsTreeIsRootedAtEvents() {
        let tree = FileTree(root: .eventsDir)
        #expect(tree.kind(of: FileTree.rootIno) == .eventsDir)
        #expect(tree.ino(of: .root) == nil && tree.ino(of: .tablesDir) == nil)
        #expect(FileTree().kind(of: FileTree.rootIno) == .root)
        #expect(FileTree().ino(of: .eventsDir) == FileTree.fixed[.eventsDir])
    }

    @Test func forgettingANodeDropsItsShownBytes() {
        var state = BridgeState()
        let kind = NodeKind.entry(table: "T", key: "k")
        let ino = state.tree.remember(kind)
        _ = state.tree.remember(kind)
        state.shown[ino] = Array("v 1\n".utf8)
        state.forget(ino, count: 1)
        #expect(state.shown[ino] == Array("v 1\n".utf8))
        state.forget(ino, count: 1)
        #expect(state.tree.kind(of: ino) == nil)
        #expect(state.shown[ino] == nil)
    }

    @Test func statusMtimeChangesOnlyWithTheText() {
        var state = BridgeState()
        let first = timespec(tv_sec: 100, tv_nsec: 0)
        let later = timespec(tv_sec: 200, tv_nsec: 0)
        #expect(state.statusMtime(Array("a".utf8), now: first).tv_sec == 100)
        #expect(state.statusMtime(Array("a".utf8), now: later).tv_sec == 100)
        #expect(state.statusMtime(Array("b".utf8), now: later).tv_sec == 200)
    }
}
