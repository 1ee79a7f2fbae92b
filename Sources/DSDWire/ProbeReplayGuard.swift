/// The answering side's defence against replayed probe requests: per directory session and
/// route, only a sequence number higher than every one answered before is answered.
///
/// A reordered datagram is refused like a replay; for a probe that only costs one miss. At
/// most `capacity` sessions are remembered (a directory restart starts a new one); the
/// least recently used is forgotten first. Only authenticated requests reach the guard, so
/// sessions cannot be flooded by outsiders.
public struct ProbeReplayGuard: Sendable {
    struct Slot: Hashable, Sendable {
        var session: UInt64
        var routeIndex: UInt32
    }

    public let capacity: Int
    private var highest: [Slot: UInt64] = [:]
    private var lastUse: [Slot: UInt64] = [:]
    private var clock: UInt64 = 0

    public init(capacity: Int = 16) { self.capacity = max(1, capacity) }

    /// True when `probe` is fresh (and records it); false for a replay or reordering.
    public mutating func admit(_ probe: Probe) -> Bool {
        let slot = Slot(session: probe.session, routeIndex: probe.routeIndex)
        if let seen = highest[slot], probe.sequence <= seen { return false }
        if highest[slot] == nil, highest.count >= capacity,
            let oldest = lastUse.min(by: { $0.value < $1.value })?.key
        {
            highest[oldest] = nil
            lastUse[oldest] = nil
        }
        clock += 1
        highest[slot] = probe.sequence
        lastUse[slot] = clock
        return true
    }
}
