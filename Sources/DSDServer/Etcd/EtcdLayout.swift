import DSDCore
import DSDEtcd

/// Where a directory kept in etcd lives under its prefix, and how its changes become etcd
/// transactions and come back as `Change`s. Pure: no I/O, so every rule has a unit test.
///
/// Keys under the prefix `P` (default `/dsd/`):
///
/// | key | value |
/// |---|---|
/// | `P epoch` | the history's epoch, decimal, created once by the first server |
/// | `P next-table-id` | the next dynamic table id, decimal; absent until the first create |
/// | `P tables/<id>` | the table's name (`<id>` decimal) |
/// | `P entries/<id>/<key>` | `1` or `0` (valid) followed by the value |
/// | `P master` | the elected master's name, bound to its etcd lease |
/// | `P servers/<name>` | a server's presence, bound to its lease (also its watch barrier) |
/// | `P agents/<host>` | the agent's boot id, routes and leases, JSON (`AgentRecord`) |
/// | `P present/<host>` | the agent's current connection id, bound to its server's lease |
/// | `P writers/<name>/<n>` | the last write of one peer of server `name`, bound to its lease |
///
/// A version is `(epoch, revision)`: the etcd revision at which the change committed. Each
/// write is one transaction that produces exactly one change, so revisions and changes map one
/// to one; the revisions in between changed no table (`Directory.Settings.continuousVersions`).
public struct EtcdLayout: Sendable, Hashable {
    public let prefix: [UInt8]

    public init(prefix: String) {
        self.prefix = Array(prefix.utf8)
    }

    var epochKey: [UInt8] { prefix + Array("epoch".utf8) }
    var nextTableIDKey: [UInt8] { prefix + Array("next-table-id".utf8) }
    var tablesPrefix: [UInt8] { prefix + Array("tables/".utf8) }
    var entriesPrefix: [UInt8] { prefix + Array("entries/".utf8) }
    var masterKey: [UInt8] { prefix + Array("master".utf8) }
    func serverKey(_ name: String) -> [UInt8] { prefix + Array("servers/\(name)".utf8) }
    /// The sequence key of one writer (a peer connection) of server `name`.
    func writerKey(_ name: String, _ serial: UInt64) -> [UInt8] { prefix + Array("writers/\(name)/\(serial)".utf8) }

    var agentsPrefix: [UInt8] { prefix + Array("agents/".utf8) }
    var presencePrefix: [UInt8] { prefix + Array("present/".utf8) }
    func agentKey(_ host: String) -> [UInt8] { agentsPrefix + Array(host.utf8) }
    func presenceKey(_ host: String) -> [UInt8] { presencePrefix + Array(host.utf8) }

    func tableKey(_ id: TableID) -> [UInt8] { tablesPrefix + Array(String(id.rawValue).utf8) }
    func entriesPrefix(_ id: TableID) -> [UInt8] { entriesPrefix + Array("\(id.rawValue)/".utf8) }
    func entryKey(_ id: TableID, _ key: String) -> [UInt8] { entriesPrefix(id) + Array(key.utf8) }

    static func entryValue(_ entry: Entry) -> [UInt8] { [entry.valid ? 0x31 : 0x30] + Array(entry.value.utf8) }

    // MARK: Reading keys

    /// What one etcd key is to the directory.
    enum Key: Hashable {
        case table(TableID)
        case entry(TableID, key: String)
        case nextTableID
        case epoch
        /// An agent's record (`AgentRecord`), kept across server and agent restarts.
        case agent(host: String)
        /// Which connection of which server an agent is on now; gone with that server.
        case presence(host: String)
        /// The sequence key of a writer of server `server` (`writerKey`).
        case writer(server: String, serial: UInt64)
        /// Election, presence, anything else under the prefix: changes no table.
        case other
    }

    func classify(_ key: [UInt8]) -> Key {
        guard key.starts(with: prefix) else { return .other }
        let rest = key[prefix.count...]
        if rest.elementsEqual("epoch".utf8) { return .epoch }
        if rest.elementsEqual("next-table-id".utf8) { return .nextTableID }
        if let id = Self.suffix(of: rest, after: "tables/").flatMap(Self.tableID) { return .table(id) }
        if let host = Self.suffix(of: rest, after: "agents/"), !host.isEmpty {
            return .agent(host: String(decoding: host, as: UTF8.self))
        }
        if let host = Self.suffix(of: rest, after: "present/"), !host.isEmpty {
            return .presence(host: String(decoding: host, as: UTF8.self))
        }
        if let tail = Self.suffix(of: rest, after: "writers/"), let slash = tail.lastIndex(of: 0x2f),
            let serial = UInt64(String(decoding: tail[tail.index(after: slash)...], as: UTF8.self))
        {
            return .writer(server: String(decoding: tail[..<slash], as: UTF8.self), serial: serial)
        }
        if let tail = Self.suffix(of: rest, after: "entries/"), let slash = tail.firstIndex(of: 0x2f),
            let id = Self.tableID(tail[..<slash]), slash < tail.endIndex
        {
            return .entry(id, key: String(decoding: tail[tail.index(after: slash)...], as: UTF8.self))
        }
        return .other
    }

    private static func suffix(of bytes: ArraySlice<UInt8>, after label: String) -> ArraySlice<UInt8>? {
        let label = Array(label.utf8)
        guard bytes.starts(with: label) else { return nil }
        return bytes[(bytes.startIndex + label.count)...]
    }

    private static func tableID(_ digits: ArraySlice<UInt8>) -> TableID? {
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let value = UInt32(String(decoding: digits, as: UTF8.self))
        else { return nil }
        return TableID(value)
    }

    static func decimal(_ bytes: [UInt8]) -> UInt64? { UInt64(String(decoding: bytes, as: UTF8.self)) }

    /// The entry an `entries/` key holds, or why its value is not one.
    static func entry(key: String, value: [UInt8]) -> Entry? {
        guard let flag = value.first, flag == 0x30 || flag == 0x31 else { return nil }
        return Entry(key: key, value: String(decoding: value.dropFirst(), as: UTF8.self), valid: flag == 0x31)
    }
}

/// A directory read from etcd in one range (at `revision`), before validation.
struct EtcdListing: Sendable {
    var epoch: UInt64?
    var nextTableID: TableID?
    var names: [TableID: String] = [:]
    var entries: [TableID: [Entry]] = [:]
    var agents: [String: AgentRecord] = [:]
    var presence: [String: UInt64] = [:]
    /// Keys under the prefix that are not what their place says (logged, then ignored).
    var unreadable: [String] = []

    init(_ kvs: [KeyValue], layout: EtcdLayout) {
        for kv in kvs {
            switch layout.classify(kv.key) {
            case .epoch: epoch = EtcdLayout.decimal(kv.value)
            case .nextTableID:
                nextTableID = EtcdLayout.decimal(kv.value).flatMap { UInt32(exactly: $0) }.map { TableID($0) }
            case .table(let id): names[id] = String(decoding: kv.value, as: UTF8.self)
            case .entry(let id, let key):
                if let entry = EtcdLayout.entry(key: key, value: kv.value) {
                    entries[id, default: []].append(entry)
                } else {
                    unreadable.append(String(decoding: kv.key, as: UTF8.self))
                }
            case .agent(let host):
                if let record = AgentRecord(json: kv.value) {
                    agents[host] = record
                } else {
                    unreadable.append(String(decoding: kv.key, as: UTF8.self))
                }
            case .presence(let host):
                if let connection = EtcdLayout.decimal(kv.value) { presence[host] = connection }
            case .writer, .other: break
            }
        }
    }

    /// The listing as a snapshot at `version`; entries of a table that has no name are
    /// reported in `unreadable` and left out.
    mutating func snapshot(at version: Version) -> Snapshot {
        var tables: [Snapshot.TableContents] = []
        for (id, name) in names where !TranslationTable.isReserved(id) {
            tables.append(.init(id: id, name: name, entries: entries[id] ?? []))
        }
        for table in StandardTable.allCases {
            tables.append(.init(id: table.id, name: table.name, entries: entries[table.id] ?? []))
        }
        for id in entries.keys where names[id] == nil && !TranslationTable.isReserved(id) {
            unreadable.append("entries of table \(id), which has no tables/ key")
        }
        let highest = names.keys.filter { !TranslationTable.isReserved($0) }.max().map { TableID($0.rawValue + 1) }
        let next = max(nextTableID ?? .firstDynamic, highest ?? .firstDynamic)
        return Snapshot(version: version, nextDynamicID: next, tables: tables.sorted { $0.id < $1.id })
    }
}
