import DSDCore

/// Size limits of the wire protocol. Every length on the wire is checked against one of these
/// (or against `DSDCore.Limits`) before anything is allocated.
public enum WireLimits {
    /// Largest frame body: a snapshot chunk of `maxEntriesPerFrame` maximal entries is about
    /// 660 KiB, so 1 MiB fits every valid message while bounding a peer's buffer.
    public static let maxFrameBytes = 1 << 20
    /// Most plaintext bytes in one sealed record (`RecordCipher`): a larger write is split, so
    /// a receiver buffers at most this much (plus a 16-byte tag) before it can check a record.
    public static let maxRecordBytes = 1 << 16
    /// Most bytes the frame length varint may take (2^21 > `maxFrameBytes`).
    public static let maxFrameLengthBytes = 3
    /// Most entries in one snapshot chunk or entries reply: 512 entries of maximal key and
    /// value (1,284 bytes each on the wire) stay under `maxFrameBytes`.
    public static let maxEntriesPerFrame = 512
    /// Longest host name in `hello` (DNS names are at most 253 bytes).
    public static let maxHostNameBytes = 255
    /// Longest error text: enough for a sentence naming a table and key.
    public static let maxMessageBytes = 2048
    /// Longest route string in a client reply (a value plus a resolved address).
    public static let maxRouteBytes = 2048
    /// Most fields in a status reply.
    public static let maxStatusFields = 256
    /// Longest status field name or value.
    public static let maxStatusFieldBytes = 1024
    /// Most tables announced by `snapshotBegin`.
    public static let maxTables = Limits.maxTables
    /// Most routes one host announces.
    public static let maxRoutes = 16
    /// Longest route address (an IPv6 literal is at most 45 characters).
    public static let maxAddressBytes = 64
}

extension WireLimits {
    /// Splits entries into pieces that each fit one frame (`maxEntriesPerFrame`). An empty list
    /// yields one empty piece, so the receiver still gets a (final) frame.
    public static func frameChunks(_ entries: [Entry]) -> [[Entry]] {
        guard !entries.isEmpty else { return [[]] }
        return stride(from: 0, to: entries.count, by: maxEntriesPerFrame).map { start in
            Array(entries[start..<min(start + maxEntriesPerFrame, entries.count)])
        }
    }
}
