import DSDCore
import DSDWire

/// The peers a directory serves (agents, nodes below it, backups), each with its replication
/// feed (`PeerFeed` in its `PeerConnection`), served from whatever `Directory` the engine
/// holds: the log's state or the etcd copy. The engine decides when changes are durable; the
/// hub carries them to every peer in order, then the answers, then one flush per peer. On the
/// engine's loop.
final class ReplicationHub {
    private(set) var peers: [ObjectIdentifier: PeerConnection] = [:]

    var count: Int { peers.count }

    func add(_ peer: PeerConnection) { peers[ObjectIdentifier(peer)] = peer }

    func remove(_ peer: PeerConnection) { peers[ObjectIdentifier(peer)] = nil }

    func peer(_ id: ObjectIdentifier) -> PeerConnection? { peers[id] }

    /// Changes that became durable together: pushed to every peer, then each answer to its
    /// peer, then every peer flushed once.
    func publish(
        _ batch: PushBatch?, directory: Directory, durable: Version,
        answers: [(peer: ObjectIdentifier, id: UInt64, result: RequestResult)] = []
    ) {
        if let batch {
            for peer in peers.values { peer.push(batch, directory: directory, durable: durable) }
        }
        for answer in answers { peers[answer.peer]?.respond(id: answer.id, answer.result) }
        if batch != nil {
            for peer in peers.values { peer.flush() }
        } else {
            for answer in answers { peers[answer.peer]?.flush() }
        }
    }

    /// One answer, sent at once.
    func answer(_ peer: ObjectIdentifier, id: UInt64, _ result: RequestResult) {
        guard let connection = peers[peer] else { return }
        connection.respond(id: id, result)
        connection.flush()
    }

    /// The directory was replaced by a fresh reading: every peer catches up from what it was
    /// sent (a snapshot, since the new history starts after it).
    func resyncAll(directory: Directory) {
        for peer in peers.values { peer.resync(directory: directory) }
    }
}
