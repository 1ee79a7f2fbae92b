import DSDTestSupport
import Testing

@testable import DSDCore

@Suite struct TableTests {
    private func table(_ keys: [String]) -> Table {
        var table = Table(id: TableID(2000), name: "T")
        for key in keys { table.put(Entry(key: key, value: "v-\(key)")) }
        return table
    }

    @Test func emptyPrefixReturnsWholeTableInKeyOrder() {
        let t = table(["MDS.1.1", "MDS.1", "BSS.4", "MDS.1.0", "GW.1"])
        #expect(
            t.search(prefix: "").map(\.key) == ["BSS.4", "GW.1", "MDS.1", "MDS.1.0", "MDS.1.1"])
    }

    @Test func prefixSearch() {
        let t = table(["MDS.1.1", "MDS.1", "MDS.10", "MDS.2", "MDS.1.0", "GW.1", "MDR"])
        #expect(t.search(prefix: "MDS.1").map(\.key) == ["MDS.1", "MDS.1.0", "MDS.1.1", "MDS.10"])
        #expect(t.search(prefix: "MDS.1.").map(\.key) == ["MDS.1.0", "MDS.1.1"])
        #expect(t.search(prefix: "MDS.1.1").map(\.key) == ["MDS.1.1"])
        #expect(t.search(prefix: "Z").isEmpty)
        #expect(t.search(prefix: "MDS.1.1x").isEmpty)
        #expect(t.search(prefix: "MDS.1").first?.value == "v-MDS.1")
    }

    @Test func putReplacesAndRemoveDeletes() {
        var t = table(["a", "b"])
        let old = t.put(Entry(key: "a", value: "new", valid: false))
        #expect(old == Entry(key: "a", value: "v-a"))
        #expect(t["a"] == Entry(key: "a", value: "new", valid: false))
        #expect(t.count == 2)
        #expect(t.remove(key: "a") != nil)
        #expect(t.remove(key: "a") == nil)
        #expect(t.search(prefix: "").map(\.key) == ["b"])
    }

    @Test func keysAreBytesNotCanonicalEquivalents() {
        // Precomposed é and e + combining acute are different file names.
        var t = table(["\u{E9}"])
        #expect(t["e\u{301}"] == nil)
        t.put(Entry(key: "e\u{301}", value: "decomposed"))
        #expect(t.count == 2)
        #expect(t["\u{E9}"]?.value == "v-\u{E9}")
        // A prefix match is a byte prefix: every key starting with "e" is found, in byte order.
        t.put(Entry(key: "ea", value: "x"))
        t.put(Entry(key: "e\u{1F600}", value: "x"))
        #expect(t.search(prefix: "e").map(\.key) == ["ea", "e\u{301}", "e\u{1F600}"])
    }

    @Test func manyKeysInRandomOrderStaySorted() {
        var rng = SplitMix64(seed: 7)
        var t = Table(id: TableID(2000), name: "T")
        var reference: Set<String> = []
        for _ in 0..<5000 {
            let key = "k\(rng.next() % 3000)"
            if rng.next() % 4 == 0 {
                t.remove(key: key)
                reference.remove(key)
            } else {
                t.put(Entry(key: key, value: "v"))
                reference.insert(key)
            }
        }
        let expected = reference.sorted { ExactKey($0) < ExactKey($1) }
        #expect(t.search(prefix: "").map(\.key) == expected)
        #expect(t.count == expected.count)
        #expect(t.search(prefix: "k12").map(\.key) == expected.filter { $0.hasPrefix("k12") })
    }
}
