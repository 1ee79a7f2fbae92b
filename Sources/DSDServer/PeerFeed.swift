import DSDCore
import DSDWire

/// The replication state of one connected agent (or node, or backup directory), as a pure
/// machine: which changes it has been sent, and what to send next.
///
/// The driver reports durable changes, sync requests and writability; the feed answers with
/// what to write. Only durable changes ever leave the directory: a replica must never hold a
/// change that a crash of the directory could lose. When the peer's outbound buffer is full
/// the feed stops writing (`stalled`) instead of buffering without bound; once the peer drains
/// it, the feed resumes from the last change it sent — a delta while the directory still
/// retains it, otherwise a snapshot.
struct PeerFeed: Sendable {
    enum State: Sendable, Equatable {
        /// Authenticated, has not asked for changes yet.
        case idle
        /// A snapshot was taken at a version not yet durable; it goes out once it is.
        case snapshotPending(Snapshot)
        /// Every durable change up to `sent` has been written.
        case streaming(sent: Version)
        /// The peer stopped reading; nothing is written until it drains. `sent` is the last
        /// change written before that.
        case stalled(sent: Version)
    }

    enum Directive: Sendable, Equatable {
        case send([Message])
        /// Every change of the `onDurable` call, in order: what nearly every peer gets, so the
        /// driver encodes it once and shares the bytes between peers.
        case sendAllDurable
        case sendSnapshot(Snapshot)
    }

    private(set) var state: State = .idle

    /// The version the peer is known to hold: the last change sent (nil before its first sync,
    /// and while its snapshot waits).
    var position: Version? {
        switch state {
        case .idle, .snapshotPending: nil
        case .streaming(let sent), .stalled(let sent): sent
        }
    }

    /// The peer asked for the changes after `from` (nil: it has nothing).
    /// - Parameters:
    ///   - directory: the directory's current state, possibly ahead of `durable`.
    ///   - durable: the newest version known to be in the log.
    mutating func onSync(from: Version?, directory: Directory, durable: Version, writable: Bool) -> [Directive] {
        catchUp(from: from, directory: directory, durable: durable)
    }

    /// Changes up to `durable` were committed durably, oldest first.
    mutating func onDurable(_ changes: [Change], directory: Directory, durable: Version, writable: Bool) -> [Directive]
    {
        switch state {
        case .idle, .stalled:
            return []
        case .snapshotPending(let snapshot):
            guard durable >= snapshot.version else { return [] }
            state = .streaming(sent: snapshot.version)
            let rest = changes.filter { $0.version > snapshot.version && $0.version <= durable }
            return [.sendSnapshot(snapshot)] + (rest.isEmpty ? [] : [.send(rest.map(Message.change))])
        case .streaming(let sent):
            guard writable else {
                state = .stalled(sent: sent)
                return []
            }
            let fresh = changes.filter { $0.version > sent && $0.version <= durable }
            guard let last = fresh.last else { return [] }
            state = .streaming(sent: last.version)
            return fresh.count == changes.count ? [.sendAllDurable] : [.send(fresh.map(Message.change))]
        }
    }

    /// The peer's outbound buffer drained below the low watermark.
    mutating func onWritable(directory: Directory, durable: Version) -> [Directive] {
        guard case .stalled(let sent) = state else { return [] }
        return catchUp(from: sent, directory: directory, durable: durable)
    }

    private mutating func catchUp(from: Version?, directory: Directory, durable: Version) -> [Directive] {
        guard let from else { return snapshot(directory, durable: durable) }
        switch directory.changes(after: from) {
        case .upToDate:
            state = .streaming(sent: from)
            return []
        case .changes(let changes):
            let ready = changes.filter { $0.version <= durable }
            state = .streaming(sent: ready.last?.version ?? from)
            return ready.isEmpty ? [] : [.send(ready.map(Message.change))]
        case .snapshotNeeded:
            return snapshot(directory, durable: durable)
        }
    }

    private mutating func snapshot(_ directory: Directory, durable: Version) -> [Directive] {
        let snapshot = directory.snapshot()
        if snapshot.version <= durable {
            state = .streaming(sent: snapshot.version)
            return [.sendSnapshot(snapshot)]
        }
        state = .snapshotPending(snapshot)
        return []
    }
}
