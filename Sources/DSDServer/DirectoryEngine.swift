import DSDCore
import DSDLog
import DSDPosix
import DSDWire
import FoundationEssentials
import Glibc
import Logging
import NIOCore

/// The directory's state and commit pipeline, confined to one event loop.
///
/// A write is validated and applied to the in-memory `Directory` at once (so the next write
/// sees it), appended to the log, and only once the log reports it durable is it pushed to
/// every peer and acknowledged to its sender — in commit order, because appends complete in
/// order. Peers therefore never see a change that a crash could lose.
final class DirectoryEngine: PeerHost, RouteProberHost {
    private struct InFlight {
        var change: Change
        /// The change's log record, which is also its pushed frame (`PushBatch`).
        var record: [UInt8]
        var durable = false
        /// The peer and request id to answer once durable (nil for derived changes such as a
        /// promotion).
        var reply: (peer: ObjectIdentifier, id: UInt64)?
    }

    let loop: any EventLoop
    let settings: ServerSettings
    let logger: Logger
    private(set) var directory: Directory
    private(set) var durable: Version
    private let writer: LogWriter
    private var inFlight: [InFlight] = []
    private var inFlightHead = 0
    private let hub = ReplicationHub()
    private var changesSinceSnapshot = 0
    private var snapshotRunning = false
    /// A commit of the queued log records is scheduled on the loop (see `append`).
    private var commitScheduled = false
    private var lastDurableLSN: UInt64
    /// Set when the log failed: the in-memory state may be ahead of the disk, so nothing more
    /// is accepted and the server stops.
    private(set) var failure: LogError?
    var onFatal: ((LogError) -> Void)?
    /// Lost-agent detection (`DirectoryEngine+Liveness.swift`).
    var liveness: LivenessDriver
    /// Route probing (`RouteProber`); nil until the directory starts it.
    var routeProber: RouteProber?

    init(
        loop: any EventLoop, directory: Directory, writer: LogWriter, settings: ServerSettings, logger: Logger,
        leases: [AgentLiveness.PersistedAgent] = []
    ) {
        self.loop = loop
        self.directory = directory
        self.durable = directory.version
        self.writer = writer
        self.settings = settings
        self.logger = logger
        self.lastDurableLSN = writer.durableLSN
        self.liveness = LivenessDriver(settings: settings.liveness, now: LivenessDirectives.now(), restoring: leases)
    }

    // MARK: Peers

    func add(_ peer: PeerConnection) {
        loop.preconditionInEventLoop()
        hub.add(peer)
    }

    func remove(_ peer: PeerConnection) {
        loop.preconditionInEventLoop()
        hub.remove(peer)
        // Routes are announced with the host name, in the same `announce` as the liveness.
        if let host = livenessDisconnected(peer) {
            routeProber?.connectionGone(peer.connectionID, host: host)
        }
    }

    func sync(_ peer: PeerConnection, from version: Version?) {
        loop.preconditionInEventLoop()
        peer.sync(from: version, directory: directory, durable: durable)
    }

    /// An agent told who it is (boot id) and which routes its host has.
    func announced(_ peer: PeerConnection, name: String, _ announce: Announce) {
        loop.preconditionInEventLoop()
        livenessConnected(peer, host: name, bootID: announce.bootID)
        routeProber?.announced(owner: peer.connectionID, host: name, announce)
        logger.info(
            "agent announced",
            metadata: [
                "host.id": "\(name)", "boot.id": "\(announce.bootID)",
                "routes": "\(announce.routes.map { "\($0.index)=\($0.address)" }.joined(separator: ","))",
            ])
    }

    func writable(_ peer: PeerConnection) {
        peer.drained(directory: directory, durable: durable)
    }

    func currentEntry(table: TableID, key: String) -> Entry? { directory.entry(table: table, key: key) }

    /// A clean shutdown begins: route probing stops (so closing its socket is not a failure
    /// to recover from) and the leases are saved.
    func shuttingDown() {
        routeProber?.stop()
        routeProber = nil
        saveLeasesNow()
    }

    // MARK: Writes

    /// Validates and commits a request from `peer`; the answer is sent once durable.
    func submit(_ request: DirectoryRequest, id: UInt64, from peer: PeerConnection) {
        loop.preconditionInEventLoop()
        if let failure {
            peer.respond(id: id, .failed(.unavailable, message: "directory log failed: \(failure)"))
            return
        }
        let mutation: Mutation
        do throws(DirectoryError) {
            mutation = try self.mutation(for: request)
            try commit(mutation, reply: (ObjectIdentifier(peer), id))
        } catch {
            peer.respond(id: id, .failed(ErrorCode(error), message: error.description(naming: directory.translation)))
            return
        }
        livenessWrote(peer, mutation)
    }

    /// Commits a write the directory decides itself (a lost agent's entry marked invalid)
    /// through the same path as requests, promotion included; nobody waits for an answer.
    func commitDerived(_ mutation: Mutation) {
        loop.preconditionInEventLoop()
        guard failure == nil else { return }
        do throws(DirectoryError) {
            try commit(mutation, reply: nil)
        } catch {
            logger.error("derived write refused", metadata: ["error": "\(error)"])
        }
    }

    /// Commits `mutation`, appends it to the log, and promotes a backup when it can have moved
    /// the primary. Whether it can is read before the commit, so no copy of the directory is
    /// held across it (a held copy makes every commit copy what it touches).
    private func commit(_ mutation: Mutation, reply: (peer: ObjectIdentifier, id: UInt64)?) throws(DirectoryError) {
        let mayPromote = Promotion.mayMovePrimary(directory, changing: mutation, settings: settings.promotion)
        let change = try directory.commit(mutation)
        append(change, reply: reply)
        if mayPromote { promote(after: change) }
    }

    private func promote(after change: Change) {
        for derived in Promotion.decide(directory, after: change, settings: settings.promotion) {
            do throws(DirectoryError) {
                append(try directory.commit(derived), reply: nil)
            } catch {
                logger.error("promotion failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func mutation(for request: DirectoryRequest) throws(DirectoryError) -> Mutation {
        let (mutation, requiresEmpty) = try request.mutation(in: directory)
        // Checked against the state this change commits on: no entry can slip in between.
        if requiresEmpty, let table = mutation.table { try directory.requireEmpty(table) }
        return mutation
    }

    private func append(_ change: Change, reply: (peer: ObjectIdentifier, id: UInt64)?) {
        let payload: [UInt8]
        do {
            payload = try LogCodec.encode(change)
        } catch {
            // Every committed change passed validation, so it always encodes; if not, the
            // state is already ahead of the log and the directory must stop.
            fail(.io(operation: "encode change \(change.version): \(error)", path: settings.dataDirectory, errno: 0))
            return
        }
        let slot = inFlight.count
        inFlight.append(InFlight(change: change, record: payload, reply: reply))
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        writer.enqueue(payload, type: LogCodec.changeRecord) { result in
            if loop.inEventLoop {
                bound.value.completed(slot: slot, result)
            } else {
                loop.execute { bound.value.completed(slot: slot, result) }
            }
        }
        guard !commitScheduled else { return }
        commitScheduled = true
        // Once the requests read in this loop iteration are queued: one write and one sync
        // for all of them, here on the loop (no hop to the committer thread and back).
        loop.execute {
            bound.value.commitScheduled = false
            bound.value.writer.commitQueued()
        }
    }

    private func completed(slot: Int, _ result: Result<UInt64, LogError>) {
        switch result {
        case .failure(let error):
            fail(error)
        case .success(let lsn):
            inFlight[slot].durable = true
            lastDurableLSN = max(lastDurableLSN, lsn)
            drainDurable()
        }
    }

    private func drainDurable() {
        var ready: [InFlight] = []
        while inFlightHead < inFlight.count, inFlight[inFlightHead].durable {
            ready.append(inFlight[inFlightHead])
            inFlightHead += 1
        }
        guard let last = ready.last else { return }
        if inFlightHead == inFlight.count {
            inFlight.removeAll(keepingCapacity: true)
            inFlightHead = 0
        }
        durable = last.change.version
        let batch = PushBatch(changes: ready.map(\.change), records: ready.map(\.record))
        let answers = ready.compactMap { item in
            item.reply.map { (peer: $0.peer, id: $0.id, result: RequestResult.ok(item.change.version)) }
        }
        hub.publish(batch, directory: directory, durable: durable, answers: answers)
        changesSinceSnapshot += ready.count
        maybeSnapshot()
    }

    // MARK: Compaction

    private func maybeSnapshot() {
        guard changesSinceSnapshot >= settings.snapshotEvery, !snapshotRunning, inFlight.isEmpty,
            failure == nil
        else { return }
        snapshotRunning = true
        changesSinceSnapshot = 0
        let snapshot = directory.snapshot()
        let lsn = lastDurableLSN
        let writer = self.writer
        let logger = self.logger
        let loop = self.loop
        let bound = NIOLoopBound(self, eventLoop: loop)
        PosixThread.detach {
            do {
                let bytes = try LogCodec.encode(snapshot)
                try writer.writeSnapshot(bytes, upTo: lsn)
                logger.info("snapshot written", metadata: ["version": "\(snapshot.version)", "lsn": "\(lsn)"])
            } catch {
                logger.error("snapshot failed", metadata: ["error": "\(error)"])
            }
            loop.execute { bound.value.snapshotRunning = false }
        }
    }

    // MARK: Failure

    private func fail(_ error: LogError) {
        guard failure == nil else { return }
        failure = error
        logger.critical("write-ahead log failed; refusing writes", metadata: ["error": "\(error)"])
        for item in inFlight[inFlightHead...] {
            guard let reply = item.reply else { continue }
            hub.answer(reply.peer, id: reply.id, .failed(.unavailable, message: "directory log failed"))
        }
        inFlight.removeAll()
        inFlightHead = 0
        onFatal?(error)
    }
}
