import DSDCore

@testable import DSDWire

/// Messages covering every case of every wire enum, with edge values.
enum Samples {
    static let longKey = String(repeating: "k", count: Limits.maxKeyBytes)
    static let longValue = String(repeating: "v", count: Limits.maxValueBytes)
    static let longTable = String(repeating: "T", count: Limits.maxTableNameBytes)
    static let nonce = Bytes32(Array(0..<32))!
    static let mac = Bytes32(Array(repeating: 0xAB, count: 32))!
    static let maxVersion = Version(epoch: .max, index: .max)
    static let entry = Entry(key: "MDS.1", value: "HOST9:1872", valid: true)
    static let invalidEntry = Entry(key: "HOST9.0", value: "16.7.13.1", valid: false)
    static let emptyEntry = Entry(key: "", value: "", valid: true)
    static let maxEntry = Entry(key: longKey, value: longValue, valid: false)
    static let unicodeEntry = Entry(key: "clé/ключ", value: "値 🚀", valid: true)

    static var mutations: [Mutation] {
        [
            .put(StandardTable.metadata.id, entry),
            .put(TableID(.max), invalidEntry),
            .put(TableID(0), emptyEntry),
            .put(TableID.firstDynamic, maxEntry),
            .put(TableID(77), unicodeEntry),
            .delete(StandardTable.gateway.id, key: "GW.1"),
            .delete(TableID(5), key: ""),
            .delete(TableID(5), key: longKey),
            .createTable(TableID(1024), name: "MY_TABLE"),
            .createTable(TableID(.max), name: longTable),
            .dropTable(TableID(1025)),
            .batch([.put(StandardTable.bss.id, entry), .delete(TableID(77), key: "K"), .put(TableID(.max), maxEntry)]),
            .batch([]),
        ]
    }

    static var directoryRequests: [DirectoryRequest] {
        [
            .put(StandardTable.bss.id, entry),
            .put(TableID(.max), maxEntry),
            .delete(TableID(3), key: "BSS.4"),
            .delete(TableID(3), key: ""),
            .createTable(name: "NEW"),
            .createTable(name: longTable),
            .dropTable(TableID(2000)),
            .dropEmptyTable(TableID(1024)),
            .batch([.put(StandardTable.bss.id, entry), .delete(TableID(3), key: "BSS.4")]),
        ]
    }

    static var clientRequests: [ClientRequest] {
        [
            .get(table: "DSD_MTID_METADATA", key: "MDS.1"),
            .get(table: "", key: ""),
            .list(table: "DSD_HOST_ROUTE", prefix: "HOST9."),
            .list(table: longTable, prefix: ""),
            .find(name: "MDS.1"),
            .part(table: "DSD_MTID_METADATA_PART", number: 6),
            .part(table: "P", number: .max),
            .watch(table: "DSD_MTID_METADATA", prefix: "MDS.1"),
            .status,
            .dump,
            .put(table: "DSD_MTID_GATEWAY", entry),
            .put(table: longTable, maxEntry),
            .delete(table: "T", key: longKey),
            .createTable(name: "X"),
            .dropTable(name: "X"),
            .dropEmptyTable(name: "X"),
            .heartbeat(table: "DSD_MTID_METADATA", key: "MDS.1.0", timeMaxMillis: 3000),
            .heartbeat(table: "DSD_MTID_METADATA", key: "MDS.1.0", timeMaxMillis: nil),
            .heartbeat(table: "T", key: "K", timeMaxMillis: .max),
            .batch([.put(table: "DSD_MTID_BSS", entry), .delete(table: longTable, key: longKey)]),
            .batch([]),
        ]
    }

    static var clientReplies: [ClientReply] {
        [
            .ok(nil),
            .ok(Version(epoch: 3, index: 99)),
            .ok(maxVersion),
            .entries([], more: false),
            .entries([entry, invalidEntry, emptyEntry, unicodeEntry], more: true),
            .tableEntries(table: "DSD_MI", [entry], more: true),
            .tableEntries(table: "", [], more: false),
            .route("16.7.13.1:1872"),
            .route(""),
            .status([]),
            .status([StatusField(name: "directory", value: "127.0.0.1:1872"), StatusField(name: "", value: "")]),
            .event(.add(entry)),
            .event(.add(maxEntry)),
            .event(.delete(key: "MDS.1")),
            .event(.delete(key: "")),
            .event(.rescan),
            .failed(.noValidRoute, message: "HOST9 has no valid route"),
            .failed(.internal, message: ""),
            .failedInBatch(index: 9_999, .notFound, message: "operation 10000 of the batch: no entry K"),
        ]
    }

    /// Every message kind with edge cases; each `MessageType` appears at least once.
    static var messages: [Message] {
        var all: [Message] = [
            .hello(Hello(role: .agent, nonce: nonce, name: "host1")),
            .hello(Hello(protocolVersion: .max, role: .directory, nonce: mac, name: "")),
            .hello(
                Hello(
                    protocolVersion: 0, role: .client, nonce: nonce,
                    name: String(repeating: "h", count: WireLimits.maxHostNameBytes))),
            .authProof(mac: mac),
            .authOK,
            .error(.authFailed, message: "authentication failed"),
            .error(.protocolVersion, message: ""),
            .error(.resync, message: String(repeating: "é", count: WireLimits.maxMessageBytes / 2)),
            .sync(from: nil),
            .sync(from: .zero),
            .sync(from: maxVersion),
            .snapshotBegin(version: Version(epoch: 1, index: 1_000_000), tableCount: 8),
            .snapshotBegin(version: maxVersion, tableCount: UInt32(WireLimits.maxTables)),
            .snapshotBegin(version: .zero, tableCount: 0),
            .snapshotTable(
                SnapshotChunk(id: StandardTable.metadata.id, name: "DSD_MTID_METADATA", entries: [entry, invalidEntry])),
            .snapshotTable(SnapshotChunk(id: TableID(.max), name: "", entries: [])),
            .snapshotEnd(version: Version(epoch: 2, index: 7)),
            .snapshotEnd(version: maxVersion),
            .ping(0),
            .ping(.max),
            .pong(127),
            .pong(128),
            .announce(Announce(bootID: 0, probePort: 0, routes: [])),
            .announce(
                Announce(
                    bootID: .max, probePort: 7401,
                    routes: (0..<UInt32(WireLimits.maxRoutes)).map {
                        RouteAnnouncement(index: $0, address: "10.77.\($0).2")
                    })),
            .announce(
                Announce(
                    bootID: 42, probePort: .max,
                    routes: [
                        RouteAnnouncement(
                            index: .max, address: String(repeating: "f", count: WireLimits.maxAddressBytes))
                    ])),
            .lease(table: StandardTable.metadata.id, key: "MDS.1.1", timeMaxMillis: 300),
            .lease(table: TableID(.max), key: String(repeating: "k", count: Limits.maxKeyBytes), timeMaxMillis: .max),
            .unlease(table: StandardTable.metadata.id, key: "MDS.1.1"),
            .response(id: 1, .ok(Version(epoch: 1, index: 2))),
            .response(id: .max, .failed(.noSuchTable, message: "no table DSD_X")),
            .response(id: 0, .ok(maxVersion)),
        ]
        for (index, mutation) in mutations.enumerated() {
            all.append(
                .change(Change(version: Version(epoch: UInt64(index), index: UInt64(index) << 40), mutation: mutation)))
        }
        all.append(.change(Change(version: maxVersion, mutation: .dropTable(TableID(1)))))
        for (index, request) in directoryRequests.enumerated() {
            all.append(.request(id: UInt64(index) * 1_000_003, request))
        }
        for (index, request) in clientRequests.enumerated() {
            all.append(.clientRequest(id: index == 0 ? .max : UInt64(index), request))
        }
        for (index, reply) in clientReplies.enumerated() {
            all.append(.clientReply(id: index == 0 ? .max : UInt64(index), reply))
        }
        for code in ErrorCode.allCases {
            all.append(.error(code, message: "\(code)"))
        }
        for role in Role.allCases {
            all.append(.hello(Hello(role: role, nonce: nonce, name: "\(role)")))
        }
        return all
    }

    /// The largest valid snapshot chunk: every entry at its maximal size.
    static var largestChunk: Message {
        .snapshotTable(
            SnapshotChunk(
                id: TableID(.max),
                name: longTable,
                entries: Array(repeating: maxEntry, count: WireLimits.maxEntriesPerFrame)
            ))
    }
}
