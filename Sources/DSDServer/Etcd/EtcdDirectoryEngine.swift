import DSDCore
import DSDEtcd
import DSDWire
import Logging
import NIOCore

/// The directory kept in etcd, served from an in-memory copy, confined to one event loop.
///
/// The copy is etcd's state at the highest revision its watch has reported (`seen`): a
/// listing at start, then every revision in order (`EtcdDirectoryEngine+Feed.swift`). A write
/// is checked against the copy, sent as one transaction whose compares make the check hold in
/// etcd (`EtcdWrite`), and answered once the watch has brought its revision back, so the
/// writer reads its own write on this server. Pushes to peers come from the watch alone, on
/// every server alike: a change is pushed once etcd committed it, whoever wrote it.
///
/// Writes of one peer go to etcd one after another, in the order the peer sent them, as they
/// commit on a directory with a log.
final class EtcdDirectoryEngine: PeerHost {
    struct Reply {
        var peer: ObjectIdentifier
        var id: UInt64
    }

    /// A write waiting its turn, or in flight.
    struct Pending {
        var request: DirectoryRequest
        var reply: Reply
        var attempts = 0
        /// Unique per write: an outcome that arrives twice (the watch saw the write's sequence
        /// key first, then the transaction's answer came) is carried out once.
        var token: UInt64
        /// The transaction in flight for it.
        var write: EtcdWrite?
    }

    let loop: any EventLoop
    let settings: ServerSettings
    let backend: EtcdBackend
    let logger: Logger
    let client: EtcdClient
    let layout: EtcdLayout
    let epoch: UInt64
    var directory: Directory
    /// The highest revision the watch has reported; the copy is etcd's state at it.
    var seen: Int64
    let hub = ReplicationHub()
    /// Per peer, the writer key its writes are sequenced on and the last sequence number
    /// committed there (`EtcdWrite.Sequence`).
    var writers: [ObjectIdentifier: (serial: UInt64, committed: UInt64)] = [:]
    var nextWriterSerial: UInt64 = 1
    /// The peer each writer serial belongs to.
    var writerPeers: [UInt64: ObjectIdentifier] = [:]
    var nextToken: UInt64 = 1
    /// Per peer, its writes in the order sent; the first is in flight.
    var queues: [ObjectIdentifier: [Pending]] = [:]
    /// Committed writes whose revision the watch has not reported yet, in revision order.
    var awaitingWatch: [(revision: Int64, version: Version, reply: Reply)] = []
    /// Writes to send again once the watch has reached a revision (a create raced another).
    var retryAfter: [(revision: Int64, peer: ObjectIdentifier)] = []
    /// Syncs from a version this copy has not reached yet (the peer came from a server
    /// further ahead): answered once the watch gets there.
    var deferredSyncs: [(peer: ObjectIdentifier, from: Version)] = []
    /// Set while etcd cannot commit: writes fail at once with it.
    var outage: String?
    var election = ElectionState()
    /// Guarded writes etcd refused because this server was no longer master.
    var deposedWrites = 0
    var stopping = false
    /// Every agent's record and presence as etcd has them (all servers keep them, so a new
    /// master starts from them).
    var agentRecords: [String: AgentRecord] = [:]
    var presence: [String: UInt64] = [:]
    /// The agents connected to this server, by connection.
    var hosted: [ObjectIdentifier: HostedAgent] = [:]
    /// The singleton duties while this server is master.
    var duties: MasterDuties?
    /// The revision the cache file holds, and whether a write of it is running.
    var cachedRevision: Int64 = 0
    var cacheWriting = false

    init(
        loop: any EventLoop, settings: ServerSettings, backend: EtcdBackend, logger: Logger, client: EtcdClient,
        opened: EtcdOpening
    ) {
        self.loop = loop
        self.settings = settings
        self.backend = backend
        self.logger = logger
        self.client = client
        self.layout = EtcdLayout(prefix: backend.prefix)
        self.epoch = opened.epoch
        self.directory = opened.directory
        self.seen = opened.revision
        self.agentRecords = opened.agents
        self.presence = opened.presence
    }

    var current: Version { Version(epoch: epoch, index: UInt64(max(0, seen))) }

    // MARK: Peers

    func add(_ peer: PeerConnection) {
        hub.add(peer)
    }

    func remove(_ peer: PeerConnection) {
        let id = ObjectIdentifier(peer)
        hub.remove(peer)
        queues[id] = nil
        if let writer = writers.removeValue(forKey: id), !election.presenceName.isEmpty {
            writerPeers[writer.serial] = nil
            let key = layout.writerKey(election.presenceName, writer.serial)
            let client = self.client
            Task { _ = try? await client.delete(.key(key)) }
        }
        hostedGone(id)
        deferredSyncs.removeAll { $0.peer == id }
    }

    func sync(_ peer: PeerConnection, from version: Version?) {
        if let version, version.epoch == epoch, version > current {
            // The peer has seen more than this copy: wait for the watch rather than send an
            // older snapshot. A barrier write makes the watch report a revision past it.
            deferredSyncs.append((ObjectIdentifier(peer), version))
            writeBarrier()
            return
        }
        peer.sync(from: version, directory: directory, durable: directory.version)
    }

    func writable(_ peer: PeerConnection) {
        peer.drained(directory: directory, durable: directory.version)
    }

    // MARK: Writes

    func submit(_ request: DirectoryRequest, id: UInt64, from peer: PeerConnection) {
        let key = ObjectIdentifier(peer)
        if let outage {
            peer.respond(id: id, .failed(.unavailable, message: outage))
            peer.flush()
            return
        }
        nextToken += 1
        queues[key, default: []].append(Pending(request: request, reply: Reply(peer: key, id: id), token: nextToken))
        if queues[key]?.count == 1 { sendNext(of: key) }
    }

    /// Checks the first write of `peer`'s queue against the copy and sends it.
    func sendNext(of peer: ObjectIdentifier) {
        while let pending = queues[peer]?.first {
            let write: EtcdWrite
            do throws(DirectoryError) {
                write = try self.write(for: pending.request)
            } catch {
                finish(peer, .failed(ErrorCode(error), message: error.description(naming: directory.translation)))
                continue
            }
            let sequenced =
                sequence(for: peer).map {
                    EtcdWrite(
                        write.mutation, layout: layout, requireEmpty: write.requireEmpty, fence: nil, sequence: $0)
                } ?? write
            queues[peer]?[0].write = sequenced
            send(sequenced) { engine, outcome in engine.completed(peer, pending, sequenced, outcome) }
            return
        }
    }

    /// The sequence the next write of `peer` is guarded by (none before this server holds a
    /// lease: the key must go with the server).
    private func sequence(for peer: ObjectIdentifier) -> EtcdWrite.Sequence? {
        guard let lease = election.lease, !election.presenceName.isEmpty else { return nil }
        if writers[peer] == nil {
            writers[peer] = (nextWriterSerial, 0)
            writerPeers[nextWriterSerial] = peer
            nextWriterSerial += 1
        }
        let writer = writers[peer]!
        return EtcdWrite.Sequence(
            key: layout.writerKey(election.presenceName, writer.serial), previous: writer.committed, lease: lease)
    }

    /// The transaction of `request`, checked against the copy first (etcd's compares then make
    /// the check hold where it commits).
    private func write(for request: DirectoryRequest) throws(DirectoryError) -> EtcdWrite {
        let (mutation, requiresEmpty) = try request.mutation(in: directory)
        try directory.check(mutation)
        if requiresEmpty, let table = mutation.table { try directory.requireEmpty(table) }
        return EtcdWrite(mutation, layout: layout, requireEmpty: requiresEmpty, fence: nil)
    }

    /// Sends `write` as a transaction and hands the outcome to `done` on the loop.
    func send(_ write: EtcdWrite, _ done: @escaping (EtcdDirectoryEngine, Result<TxnResponse, any Error>) -> Void) {
        let client = self.client
        let bound = NIOLoopBound(self, eventLoop: loop)
        let boundDone = NIOLoopBound(done, eventLoop: loop)
        let loop = self.loop
        let logger = self.logger
        let queued = ContinuousClock.now
        Task {
            let started = ContinuousClock.now
            let outcome: Result<TxnResponse, any Error>
            defer {
                logger.debug(
                    "etcd transaction",
                    metadata: [
                        "task.start.us": "\((started - queued) / .microseconds(1))",
                        "txn.us": "\((ContinuousClock.now - started) / .microseconds(1))",
                    ])
            }
            do {
                outcome = .success(
                    try await client.txn(
                        write.compares, success: write.success, failure: write.failure,
                        resendUnanswered: write.sequence != nil || write.fence != nil))
            } catch {
                outcome = .failure(error)
            }
            loop.execute { boundDone.value(bound.value, outcome) }
        }
    }

    private func completed(
        _ peer: ObjectIdentifier, _ pending: Pending, _ write: EtcdWrite, _ outcome: Result<TxnResponse, any Error>
    ) {
        // Gone, or already carried out (the watch showed it committed).
        guard queues[peer]?.first?.token == pending.token else { return }
        switch outcome {
        case .success(let response) where response.succeeded:
            etcdAnswered()
            committed(peer, pending, write, revision: response.header.revision)
        case .success(let response):
            etcdAnswered()
            switch write.refusal(response.answers) {
            case .applied(let revision):
                committed(peer, pending, write, revision: revision)
            case .refused(let error):
                finish(peer, .failed(ErrorCode(error), message: error.description(naming: directory.translation)))
            case .notEmpty:
                let table = write.mutation.table ?? .firstDynamic
                let count = directory.table(table)?.count ?? 0
                let name = directory.translation.name(of: table) ?? "\(table)"
                let error = DirectoryError.tableNotEmpty(name, entries: max(count, 1))
                finish(peer, .failed(ErrorCode(error), message: error.description(naming: directory.translation)))
            case .retry, .deposed:
                guard pending.attempts < 8 else {
                    finish(peer, .failed(.unavailable, message: "the write kept racing other writes; try again"))
                    return
                }
                queues[peer]?[0].attempts += 1
                retryAfter.append((response.header.revision, peer))
                retryDue()
            }
        case .failure(let error):
            let etcd = error as? EtcdError
            if etcd?.isUnavailable ?? false { etcdUnavailable(etcd!) }
            // An attempt that reached a member may still commit, even after the call failed
            // (a proposal the old leader had logged): the writer key may yet move, so the next
            // write starts a new one and can never be mistaken for this one.
            if let serial = writers.removeValue(forKey: peer)?.serial { writerPeers[serial] = nil }
            if etcd?.anyAttemptUnanswered ?? true {
                finish(
                    peer,
                    .failed(
                        .timeout,
                        message:
                            "etcd did not answer (\(Self.sentence(error))); the write may or may not have been applied"
                    ))
            } else if case .batch(let operations) = write.mutation, case .rejected? = etcd {
                finish(
                    peer,
                    .failed(
                        .unavailable,
                        message:
                            "etcd refused a batch of \(operations.count) operations: \(Self.sentence(error)) (etcd takes at most --max-txn-ops operations in one transaction, 128 unless set; a batch needs its count plus 2: start etcd with a larger --max-txn-ops or send smaller batches)"
                    ))
            } else {
                finish(peer, .failed(.unavailable, message: "etcd cannot commit the write: \(Self.sentence(error))"))
            }
        }
    }

    /// The watch showed this server's writer key `serial` set to `value` at `revision`: if
    /// that is the in-flight write of its peer, it committed there, and is answered now
    /// (the copy holds that revision) without waiting for the transaction's own answer.
    func sawOwnWrite(serial: UInt64, value: [UInt8], revision: Int64) {
        guard let peer = writerPeers[serial], let pending = queues[peer]?.first, let write = pending.write,
            let sequence = write.sequence, sequence.key == layout.writerKey(election.presenceName, serial),
            value == Array(String(sequence.next).utf8)
        else { return }
        committed(peer, pending, write, revision: revision)
    }

    /// etcd committed the first write of `peer`'s queue at `revision`: it is answered once the
    /// watch has brought that revision into the copy.
    private func committed(_ peer: ObjectIdentifier, _ pending: Pending, _ write: EtcdWrite, revision: Int64) {
        if case .put(let table, let entry) = write.mutation { hostedWrote(peer, table: table, entry: entry) }
        if let sequence = write.sequence, let writer = writers[peer] {
            writers[peer] = (writer.serial, sequence.next)
        }
        let version = Version(epoch: epoch, index: UInt64(revision))
        queues[peer]?.removeFirst()
        appliedOwnWrite(write.mutation, revision: revision)
        if revision <= seen {
            answer(pending.reply, .ok(version))
        } else {
            awaitingWatch.append((revision, version, pending.reply))
            let bound = NIOLoopBound(self, eventLoop: loop)
            let reply = pending.reply
            loop.scheduleTask(in: TimeAmount(backend.applyTimeout)) {
                bound.value.applyOverdue(reply, revision: revision)
            }
        }
        sendNext(of: peer)
    }

    /// A committed write whose revision the watch has not brought back in time: the writer
    /// hears it committed but cannot be read here yet (the watch is broken or far behind).
    private func applyOverdue(_ reply: Reply, revision: Int64) {
        guard let index = awaitingWatch.firstIndex(where: { $0.reply.peer == reply.peer && $0.reply.id == reply.id })
        else { return }
        awaitingWatch.remove(at: index)
        logger.warning(
            "a committed write is not back from the etcd watch in time",
            metadata: ["revision": "\(revision)", "seen": "\(seen)"])
        answer(
            reply,
            .failed(
                .timeout,
                message:
                    "etcd committed the write at revision \(revision), but this server's copy is behind (at \(seen)): it shows up once the copy catches up"
            ))
    }

    /// Answers the first write of `peer`'s queue and sends the next.
    private func finish(_ peer: ObjectIdentifier, _ result: RequestResult) {
        guard let pending = queues[peer]?.first else { return }
        queues[peer]?.removeFirst()
        answer(pending.reply, result)
        sendNext(of: peer)
    }

    func answer(_ reply: Reply, _ result: RequestResult) {
        hub.answer(reply.peer, id: reply.id, result)
    }

    /// Resends the writes whose retry revision the watch has reached.
    func retryDue() {
        let due = retryAfter.filter { $0.revision <= seen }
        retryAfter.removeAll { $0.revision <= seen }
        for item in due { sendNext(of: item.peer) }
    }

    /// What a failed call to etcd says: the client throws `EtcdError` (a sentence), a reading
    /// of the directory `EtcdStartError`, and a cancellation comes when the server stops.
    static func sentence(_ error: any Error) -> String {
        switch error {
        case let etcd as EtcdError: etcd.description
        case let start as EtcdStartError: start.description
        case is CancellationError: "the server is stopping"
        default: "the etcd client failed unexpectedly (\(type(of: error)))"
        }
    }

    // MARK: Health

    /// etcd answered a request: a known outage is over.
    func etcdAnswered() {
        guard let outage else { return }
        self.outage = nil
        logger.notice("etcd answers again; accepting writes", metadata: ["was": "\(outage)"])
    }

    func etcdUnavailable(_ error: EtcdError) {
        guard outage == nil else { return }
        outage = "etcd is unavailable (no quorum or no member reachable): \(error)"
        logger.error("etcd is unavailable; writes fail until it is back", metadata: ["error": "\(error)"])
        probeUntilAvailable()
    }
}
