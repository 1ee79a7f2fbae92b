import DSDCore
import DSDEtcd
import DSDWire
import Logging
import NIOCore

/// The directory as read from etcd when a server starts or relists.
struct EtcdOpening: Sendable {
    var epoch: UInt64
    var revision: Int64
    var directory: Directory
    var agents: [String: AgentRecord]
    var presence: [String: UInt64]
    /// Keys that are not what their place says, for the log.
    var unreadable: [String]

    /// The history's epoch, created on first use (`newEpoch`).
    static func epoch(client: EtcdClient, layout: EtcdLayout, newEpoch: UInt64) async throws -> UInt64 {
        let created = try await client.txn(
            [.absent(layout.epochKey)], success: [.put(key: layout.epochKey, value: Array(String(newEpoch).utf8))],
            failure: [.range(RangeRequest(.key(layout.epochKey)))], resendUnanswered: true)
        if created.succeeded { return newEpoch }
        guard case .range(let range)? = created.answers.first, let kv = range.kvs.first,
            let epoch = EtcdLayout.decimal(kv.value)
        else {
            throw EtcdStartError.badEpoch(key: String(decoding: layout.epochKey, as: UTF8.self))
        }
        return epoch
    }

    /// Reads (creating on first use) the epoch, then lists the whole prefix in one range.
    static func read(
        client: EtcdClient, layout: EtcdLayout, settings: Directory.Settings, newEpoch: UInt64
    ) async throws -> EtcdOpening {
        let epoch = try await Self.epoch(client: client, layout: layout, newEpoch: newEpoch)
        let listing = try await client.range(RangeRequest(.prefix(layout.prefix)))
        var contents = EtcdListing(listing.kvs, layout: layout)
        let version = Version(epoch: epoch, index: UInt64(listing.header.revision))
        var continuous = settings
        continuous.continuousVersions = true
        let directory: Directory
        do throws(DirectoryError) {
            directory = try Directory(snapshot: contents.snapshot(at: version), settings: continuous)
        } catch {
            throw EtcdStartError.inconsistent(prefix: String(decoding: layout.prefix, as: UTF8.self), error)
        }
        return EtcdOpening(
            epoch: epoch, revision: listing.header.revision, directory: directory, agents: contents.agents,
            presence: contents.presence, unreadable: contents.unreadable)
    }
}

/// Why a directory on etcd could not start.
public enum EtcdStartError: Error, Sendable, CustomStringConvertible {
    case badEpoch(key: String)
    /// What is stored under the prefix is not a directory the server can hold (written by
    /// something other than dsd, or by a dsd with higher limits).
    case inconsistent(prefix: String, DirectoryError)

    public var description: String {
        switch self {
        case .badEpoch(let key):
            "the etcd key \(key) does not hold a decimal epoch; it is written once by the first dsd server "
                + "under this prefix: delete it only together with everything under the prefix"
        case .inconsistent(let prefix, let error):
            "the directory stored in etcd under \(prefix) cannot be read: \(error)"
        }
    }
}

/// The watch: every revision under the prefix, in order, into the copy and out to the peers.
extension EtcdDirectoryEngine {
    /// Starts the watch task; it runs until the engine stops, watching again after a break
    /// and relisting after a compaction.
    func startWatch() {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let client = self.client
        let layout = self.layout
        let settings = self.settings.directory
        let epoch = self.epoch
        let logger = self.logger
        Task {
            try? await EtcdDirectoryEngine.runWatch(
                bound, client: client, layout: layout, settings: settings, epoch: epoch, logger: logger)
        }
    }

    private static func runWatch(
        _ bound: NIOLoopBound<EtcdDirectoryEngine>, client: EtcdClient, layout: EtcdLayout,
        settings: Directory.Settings, epoch: UInt64, logger: Logger
    ) async throws {
        let loop = bound.eventLoop
        var from = try await loop.submit { bound.value.seen + 1 }.get()
        while !(try await loop.submit { bound.value.stopping }.get()) {
            let outcome: WatchEnd
            do {
                outcome = try await client.watch(WatchRequest(.prefix(layout.prefix), startRevision: from)) { watch in
                    try await follow(watch, bound: bound, from: &from, logger: logger)
                }
            } catch let error as EtcdError {
                // A stream that broke says nothing about the cluster; no member answering does.
                if case .unavailable = error { try? await loop.submit { bound.value.etcdUnavailable(error) }.get() }
                logger.notice("etcd watch broke; watching again", metadata: ["error": "\(error)"])
                outcome = .broken
            } catch {
                logger.notice(
                    "etcd watch broke; watching again", metadata: ["error": "\(EtcdDirectoryEngine.sentence(error))"])
                outcome = .broken
            }
            switch outcome {
            case .relist:
                from = try await relist(bound, client: client, layout: layout, settings: settings, epoch: epoch) + 1
            case .broken, .ended:
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    enum WatchEnd: Sendable {
        case relist
        case broken
        case ended
    }

    private static func follow(
        _ watch: EtcdWatch, bound: NIOLoopBound<EtcdDirectoryEngine>, from: inout Int64, logger: Logger
    ) async throws -> WatchEnd {
        let loop = bound.eventLoop
        for try await update in watch {
            switch update {
            case .created, .progress:
                continue
            case .events(let events, _):
                let (last, relist) = try await loop.submit { bound.value.watched(events) }.get()
                from = last + 1
                if relist { return .relist }
            case .compacted(let compactRevision):
                logger.warning(
                    "etcd compacted the revisions this server still needed; reading the directory again",
                    metadata: ["compact.revision": "\(compactRevision)"])
                return .relist
            case .canceled(let reason):
                logger.warning("etcd cancelled the watch", metadata: ["reason": "\(reason)"])
                return .ended
            }
        }
        return .ended
    }

    private static func relist(
        _ bound: NIOLoopBound<EtcdDirectoryEngine>, client: EtcdClient, layout: EtcdLayout,
        settings: Directory.Settings, epoch: UInt64
    ) async throws -> Int64 {
        let logger = try await bound.eventLoop.submit { bound.value.logger }.get()
        let loop = bound.eventLoop
        while true {
            do {
                let opening = try await EtcdOpening.read(
                    client: client, layout: layout, settings: settings, newEpoch: epoch)
                return try await loop.submit { bound.value.replace(with: opening) }.get()
            } catch {
                logger.warning(
                    "cannot read the directory from etcd; trying again",
                    metadata: ["error": "\(EtcdDirectoryEngine.sentence(error))"])
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Takes a fresh listing as the copy and resynchronises every peer from it.
    private func replace(with opening: EtcdOpening) -> Int64 {
        directory = opening.directory
        seen = opening.revision
        replaceAgents(opening.agents, presence: opening.presence)
        hub.resyncAll(directory: directory)
        afterAdvance()
        return seen
    }

    /// Applies the events of one watch response; returns the last revision applied, and
    /// whether the directory must be read again from a listing.
    func watched(_ events: [DSDEtcd.WatchEvent]) -> (Int64, relist: Bool) {
        var batch: [Change] = []
        var records: [[UInt8]] = []
        var masterKeyGone = false
        var ownWrites: [(serial: UInt64, value: [UInt8], revision: Int64)] = []
        for run in EtcdChangeReader.byRevision(events) where run.revision > seen {
            for event in run.events where event.kind == .put {
                if case .writer(let server, let serial) = layout.classify(event.kv.key), server == election.presenceName
                {
                    ownWrites.append((serial, event.kv.value, run.revision))
                }
            }
            if run.events.contains(where: { $0.kind == .delete && $0.kv.key == layout.masterKey }) {
                masterKeyGone = true
            }
            let version = Version(epoch: epoch, index: UInt64(run.revision))
            agentEvents(run.events)
            switch EtcdChangeReader.read(run.events, revision: run.revision, epoch: epoch, layout: layout) {
            case .change(let change):
                apply(change, into: &batch, &records)
            case .none:
                try? directory.advance(to: version)
            case .unreadable(let key):
                logger.warning(
                    "ignoring a key under the prefix that is no directory entry",
                    metadata: ["key": "\(key)", "revision": "\(run.revision)"])
                try? directory.advance(to: version)
            case .relist:
                logger.warning(
                    "a revision in etcd holds several directory changes (not written by dsd); reading the directory again",
                    metadata: ["revision": "\(run.revision)"])
                publish(batch, records)
                afterAdvance()
                return (seen, true)
            }
            seen = run.revision
        }
        publish(batch, records)
        afterAdvance()
        for write in ownWrites { sawOwnWrite(serial: write.serial, value: write.value, revision: write.revision) }
        if masterKeyGone { campaign() }
        return (seen, false)
    }

    /// Applies one change of etcd to the copy (a change the directory refuses is logged and
    /// skipped, as every server skips it), and collects it for the push.
    private func apply(_ change: Change, into batch: inout [Change], _ records: inout [[UInt8]]) {
        do throws(DirectoryError) {
            // Read before the change, so no copy of the directory is held across it.
            let mayPromote =
                election.isMaster
                && Promotion.mayMovePrimary(directory, changing: change.mutation, settings: settings.promotion)
            try directory.apply(change)
            if let record = try? LogCodec.encode(change) {
                batch.append(change)
                records.append(record)
            }
            if mayPromote { promote(after: change) }
        } catch {
            logger.warning(
                "ignoring a change in etcd that the directory refuses",
                metadata: ["revision": "\(change.version.index)", "error": "\(error)"])
            try? directory.advance(to: change.version)
        }
    }

    /// This server's own write committed at the revision right after the copy's: the
    /// transaction held nothing else that changes a table, so the copy applies it now instead
    /// of waiting for the watch to bring it back (which then skips it).
    func appliedOwnWrite(_ mutation: Mutation, revision: Int64) {
        guard revision == seen + 1 else {
            logger.debug("own write waits for the watch", metadata: ["revision": "\(revision)", "seen": "\(seen)"])
            return
        }
        var batch: [Change] = []
        var records: [[UInt8]] = []
        apply(
            Change(version: Version(epoch: epoch, index: UInt64(revision)), mutation: mutation), into: &batch, &records)
        seen = revision
        publish(batch, records)
        afterAdvance()
    }

    private func publish(_ changes: [Change], _ records: [[UInt8]]) {
        guard !changes.isEmpty else { return }
        hub.publish(PushBatch(changes: changes, records: records), directory: directory, durable: directory.version)
    }

    /// What waited for the watch to get this far: acknowledgements, retries, deferred syncs.
    private func afterAdvance() {
        var answered = 0
        while answered < awaitingWatch.count, awaitingWatch[answered].revision <= seen { answered += 1 }
        let due = awaitingWatch.prefix(answered)
        awaitingWatch.removeFirst(answered)
        for item in due { answer(item.reply, .ok(item.version)) }
        retryDue()
        let ready = deferredSyncs.filter { $0.from <= current }
        deferredSyncs.removeAll { $0.from <= current }
        for item in ready {
            hub.peer(item.peer)?.sync(from: item.from, directory: directory, durable: directory.version)
        }
    }

    /// Writes this server's presence key: the watch reports its revision, which is past every
    /// revision committed before, so deferred syncs are answered then.
    func writeBarrier() {
        guard let lease = election.lease else { return }
        let key = layout.serverKey(election.presenceName)
        let value = Array(settings.name.utf8)
        let client = self.client
        Task { _ = try? await client.put(key, value, lease: lease) }
    }

    /// While etcd is unavailable, reads a key every 250 ms; the first answer ends the outage.
    func probeUntilAvailable() {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        let client = self.client
        let key = layout.epochKey
        Task {
            while try await loop.submit({ bound.value.outage != nil && !bound.value.stopping }).get() {
                if (try? await client.get(key)) != nil {
                    try await loop.submit { bound.value.etcdAnswered() }.get()
                    return
                }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }
}
