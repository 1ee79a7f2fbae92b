import DSDEtcd
import Testing

extension EtcdProcessTests {
    /// Put, range, prefix and delete against a real 3-member cluster.
    @Suite struct KVTests {
        /// Keys that are not text: NUL, 0xff, bytes that are not UTF-8, and a newline.
        static let binaryKeys: [[UInt8]] = [
            [0x2f, 0x64, 0x00, 0x01], [0x2f, 0x64, 0xff, 0xfe], [0x2f, 0x64, 0xc3, 0x28], [0x2f, 0x64, 0x0a],
        ]

        @Test func putRangePrefixDeleteRoundTripWithBinaryKeys() async throws {
            let fixture = try EtcdFixture()
            let client = fixture.client
            var revisions: [Int64] = []
            for (index, key) in Self.binaryKeys.enumerated() {
                let value: [UInt8] = [0x00, 0xff, UInt8(index), 0x0a]
                revisions.append(try await client.put(key, value).header.revision)
            }
            #expect(revisions == revisions.sorted() && Set(revisions).count == revisions.count)
            try await client.put("/other".bytes, "x".bytes)

            let all = try await client.range(RangeRequest(.prefix([0x2f, 0x64])))
            #expect(all.kvs.map(\.key) == Self.binaryKeys.sorted { $0.lexicographicallyPrecedes($1) })
            #expect(all.count == 4 && !all.more)
            for kv in all.kvs {
                let index = try #require(Self.binaryKeys.firstIndex(of: kv.key))
                #expect(kv.value == [0x00, 0xff, UInt8(index), 0x0a])
                #expect(kv.createRevision == revisions[index] && kv.modRevision == revisions[index] && kv.version == 1)
            }

            let one = try #require(try await client.get(Self.binaryKeys[1]))
            #expect(one.value == [0x00, 0xff, 1, 0x0a])
            #expect(try await client.get([0x2f, 0x64, 0x99]) == nil)

            let limited = try await client.range(RangeRequest(.prefix([0x2f, 0x64]), limit: 2, keysOnly: true))
            #expect(limited.kvs.count == 2 && limited.more && limited.count == 4)
            #expect(limited.kvs.allSatisfy { $0.value.isEmpty })
            let counted = try await client.range(RangeRequest(.prefix([0x2f, 0x64]), countOnly: true))
            #expect(counted.kvs.isEmpty && counted.count == 4)

            // A second put changes the value; the old revision still reads the old one.
            let second = try await client.put(Self.binaryKeys[0], "new".bytes, prevKV: true)
            #expect(second.previous?.value == [0x00, 0xff, 0, 0x0a])
            let old = try await client.range(RangeRequest(.key(Self.binaryKeys[0]), revision: revisions[0]))
            #expect(old.kvs.first?.value == [0x00, 0xff, 0, 0x0a])
            let now = try #require(try await client.get(Self.binaryKeys[0]))
            #expect(now.value == "new".bytes && now.version == 2 && now.createRevision == revisions[0])

            let single = try await client.delete(.key(Self.binaryKeys[3]), prevKV: true)
            #expect(single.deleted == 1 && single.previous.first?.value == [0x00, 0xff, 3, 0x0a])
            let rest = try await client.delete(.prefix([0x2f, 0x64]))
            #expect(rest.deleted == 3)
            #expect(try await client.range(RangeRequest(.prefix([0x2f, 0x64]))).count == 0)
            #expect(try await client.get("/other".bytes)?.value == "x".bytes)
            let missing = try await client.delete(.key("/nothing".bytes))
            #expect(missing.deleted == 0)

            // Every key, with the empty prefix.
            #expect(try await client.range(RangeRequest(.prefix([]))).kvs.map(\.key) == ["/other".bytes])
        }

        @Test func aFutureRevisionIsRefusedWithATypedReason() async throws {
            let fixture = try EtcdFixture()
            let current = try await fixture.client.put("/k".bytes, "v".bytes).header.revision
            let error = await #expect(throws: EtcdError.self) {
                _ = try await fixture.client.range(RangeRequest(.key("/k".bytes), revision: current + 100))
            }
            guard case .rejected(.range, _, .futureRevision) = error else {
                Issue.record("expected a future-revision refusal, got \(String(describing: error))")
                return
            }
        }
    }
}
