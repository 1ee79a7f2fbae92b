import DSDEtcd
import Testing

extension EtcdProcessTests {
    /// Watches: events in order with their revisions, and a compacted start revision reported as
    /// such so the caller relists.
    @Suite struct WatchTests {
        @Test func putAndDeleteEventsArriveInOrderWithRevisions() async throws {
            let fixture = try EtcdFixture()
            let client = fixture.client
            let start = try await client.put("/unwatched".bytes, "x".bytes).header.revision
            let writer = try EtcdFixture.client(of: fixture.cluster, order: [1, 2, 0])

            let (events, writes) = try await client.watch(WatchRequest(.prefix("/w/"), startRevision: start + 1)) {
                updates in
                var iterator = updates.makeAsyncIterator()
                guard case .created = try #require(try await iterator.next()) else {
                    Issue.record("the first update is not created")
                    return ([WatchEvent](), [Int64]())
                }
                // Written after the watch exists, through another member.
                var writes: [Int64] = []
                writes.append(try await writer.put("/w/a".bytes, [0, 1, 2]).header.revision)
                writes.append(try await writer.put("/w/b".bytes, "b".bytes).header.revision)
                try await writer.put("/elsewhere".bytes, "x".bytes)
                writes.append(try await writer.put("/w/a".bytes, "a2".bytes).header.revision)
                writes.append(try await writer.delete(.key("/w/a".bytes)).header.revision)
                var events: [WatchEvent] = []
                while events.count < 4, let update = try await iterator.next() {
                    switch update {
                    case .events(let batch, _): events += batch
                    case .progress: continue
                    case .created, .compacted, .canceled:
                        Issue.record("unexpected update \(update)")
                        return (events, writes)
                    }
                }
                return (events, writes)
            }
            #expect(events.map(\.kind) == [.put, .put, .put, .delete])
            #expect(events.map(\.kv.key) == ["/w/a", "/w/b", "/w/a", "/w/a"].map(\.bytes))
            #expect(events.map(\.kv.modRevision) == writes)
            #expect(events[0].kv.value == [0, 1, 2] && events[0].kv.version == 1)
            #expect(events[2].kv.value == "a2".bytes && events[2].kv.version == 2)
            #expect(events[3].kv.value.isEmpty)
        }

        @Test func aWatchFromACompactedRevisionReportsTheCompaction() async throws {
            let fixture = try EtcdFixture()
            let client = fixture.client
            var last: Int64 = 0
            for index in 0..<5 { last = try await client.put("/c/k".bytes, [UInt8(index)]).header.revision }
            try await client.compact(revision: last, physical: true)

            let updates = try await client.watch(WatchRequest(.prefix("/c/"), startRevision: 2)) { watch in
                var seen: [WatchUpdate] = []
                for try await update in watch { seen.append(update) }
                return seen
            }
            #expect(updates.last == .compacted(compactRevision: last), "updates: \(updates)")

            let error = await #expect(throws: EtcdError.self) {
                _ = try await client.range(RangeRequest(.key("/c/k".bytes), revision: 2))
            }
            guard case .rejected(.range, _, .compacted) = error else {
                Issue.record("expected a compacted refusal, got \(String(describing: error))")
                return
            }
            // Relist and watch from there: works.
            let list = try await client.range(RangeRequest(.prefix("/c/")))
            let resumed = try await client.watch(WatchRequest(.prefix("/c/"), startRevision: list.header.revision + 1))
            {
                watch in
                var iterator = watch.makeAsyncIterator()
                return try await iterator.next()
            }
            #expect(resumed == .created(revision: list.header.revision))
        }
    }
}
