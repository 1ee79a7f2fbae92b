import DSDAgent
import DSDCore
import DSDWire
import Logging
import NIOCore

/// A node of the hierarchy (FIG. 7): upward an agent (a full replica, resumed by version,
/// switching between its upstreams), downward a directory for agents and further nodes,
/// served from that replica through a `ReplicationHub`, on the agent's own loop.
///
/// Versions pass through unchanged: the replica holds the root's versions, and its history is
/// kept with continuous versions (every change arrives in order), so an agent moves between
/// nodes, or to the root, and resumes with a delta. A write from below is forwarded upward
/// and answered once it came back down committed, after the push that carries it, so the
/// writer reads its own write here. The node probes the routes of the agents attached to it
/// (`RouteProber`) and commits their validity upward like any write, so probing load is spread
/// over the nodes. Not yet forwarded: the leases of the agents below (their heartbeats stay on
/// their own hosts; agent loss is not decided for them).
final class NodeEngine: PeerHost, RouteProberHost {
    let loop: any EventLoop
    let agent: Agent
    let settings: ServerSettings
    let logger: Logger
    let hub = ReplicationHub()
    var prober: RouteProber?
    /// The host each announced connection belongs to.
    private var hosts: [ObjectIdentifier: String] = [:]

    init(agent: Agent, settings: ServerSettings, logger: Logger) {
        self.loop = agent.eventLoop
        self.agent = agent
        self.settings = settings
        self.logger = logger
    }

    /// Registers for the replica's updates and starts route probing (on the loop).
    func start() -> EventLoopFuture<Void> {
        let bound = NIOLoopBound(self, eventLoop: loop)
        agent.observeReplication { update in bound.value.replicaUpdated(update) }
        return RouteProber.start(engine: self).map { bound.value.prober = $0 }
    }

    func stop() {
        prober?.stop()
        prober = nil
    }

    // MARK: RouteProberHost

    func currentEntry(table: TableID, key: String) -> Entry? { agent.replica.read { $0.entry(table: table, key: key) } }

    /// A route's validity, decided here, committed above like a write from below.
    func commitDerived(_ mutation: Mutation) {
        guard case .put(let table, let entry) = mutation else { return }
        let logger = self.logger
        agent.forward(.put(table, entry)).whenFailure { error in
            logger.warning(
                "route validity not committed above",
                metadata: ["route": "\(entry.key)", "error": "\(Self.sentence(error))"])
        }
    }

    private var directory: Directory { agent.replica.directory }

    /// What a forwarded write's failure says: the agent fails its writes with `AgentError`.
    static func sentence(_ error: any Error) -> String {
        (error as? AgentError)?.description ?? "the node's agent failed unexpectedly (\(type(of: error)))"
    }

    private func replicaUpdated(_ update: ReplicaUpdate) {
        let directory = self.directory
        switch update {
        case .changes(let changes):
            let records = changes.compactMap { try? LogCodec.encode($0) }
            guard records.count == changes.count else {
                logger.error("a change could not be encoded for the peers; resynchronising them")
                hub.resyncAll(directory: directory)
                return
            }
            hub.publish(PushBatch(changes: changes, records: records), directory: directory, durable: directory.version)
        case .replaced:
            // A new history below: every peer catches up from what it was sent.
            hub.resyncAll(directory: directory)
        }
    }

    // MARK: PeerHost

    func add(_ peer: PeerConnection) { hub.add(peer) }

    func remove(_ peer: PeerConnection) {
        hub.remove(peer)
        if let host = hosts.removeValue(forKey: ObjectIdentifier(peer)) {
            prober?.connectionGone(peer.connectionID, host: host)
        }
    }

    func sync(_ peer: PeerConnection, from version: Version?) {
        let directory = self.directory
        peer.sync(from: version, directory: directory, durable: directory.version)
    }

    func announced(_ peer: PeerConnection, name: String, _ announce: Announce) {
        hosts[ObjectIdentifier(peer)] = name
        prober?.announced(owner: peer.connectionID, host: name, announce)
        logger.info("agent announced", metadata: ["host.id": "\(name)", "boot.id": "\(announce.bootID)"])
    }

    func livenessLeased(_ peer: PeerConnection, table: TableID, key: String, timeMaxMillis: UInt64) {}

    func livenessUnleased(_ peer: PeerConnection, table: TableID, key: String) {}

    func writable(_ peer: PeerConnection) {
        let directory = self.directory
        peer.drained(directory: directory, durable: directory.version)
    }

    func submit(_ request: DirectoryRequest, id: UInt64, from peer: PeerConnection) {
        let key = ObjectIdentifier(peer)
        let bound = NIOLoopBound(self, eventLoop: loop)
        agent.forward(request).whenComplete { result in
            let engine = bound.value
            switch result {
            case .success(let version):
                engine.hub.answer(key, id: id, .ok(version))
            case .failure(let error as AgentError):
                engine.hub.answer(key, id: id, .failed(error.code, message: error.description))
            case .failure(let error):
                engine.hub.answer(key, id: id, .failed(.internal, message: Self.sentence(error)))
            }
        }
    }
}
