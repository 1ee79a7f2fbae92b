import DSDCore
import Dispatch
import NIOCore

/// Heartbeats (FIG. 5C) on the agent: touches arm deadlines in the `HeartbeatTracker`; only a
/// change of validity travels to the directory.
extension AgentEngine {
    static func now() -> Instant {
        Instant(nanoseconds: DispatchTime.now().uptimeNanoseconds)
    }

    /// A touch of `table`/`key`; `timeMax` nil reuses the entry's last Time_Max. Succeeds with
    /// the committed version when validity had to change, nil when the touch stayed local.
    func heartbeat(table: String, key: String, timeMax: Duration?) -> EventLoopFuture<Version?> {
        loop.preconditionInEventLoop()
        let found = replica.read { directory -> (TableID, Entry?)? in
            guard let id = directory.translation.id(of: table) else { return nil }
            return (id, directory.entry(table: id, key: key))
        }
        guard let (id, current) = found else { return loop.makeFailedFuture(AgentError.noSuchTable(table)) }
        guard let entry = current else { return loop.makeFailedFuture(AgentError.notFound(table: table, key: key)) }
        let previous = heartbeats.tracked[HeartbeatTracker.EntryRef(table: id, key: key)]
        let directives = heartbeats.onTouch(
            table: id, key: key, timeMax: timeMax, currentlyValid: entry.valid, now: Self.now())
        rearmHeartbeatTimer()
        leaseIfChanged(table: id, key: key, previous: previous)
        var result: EventLoopFuture<Version?> = loop.makeSucceededFuture(nil)
        for directive in directives {
            if case .markValid = directive {
                var valid = entry
                valid.valid = true
                result = submit(.put(id, valid)).map { Optional($0) }
            }
        }
        return result
    }

    /// Forgets heartbeats of entries that disappeared: deleted, in a dropped table, or gone
    /// from a snapshot that replaced the replica. Checked against the replica as it is now (the
    /// events come after the changes were applied, when a dropped table's name no longer
    /// resolves), once per batch.
    func heartbeatsSaw(_ events: [ReplicaEvent]) {
        guard !heartbeats.tracked.isEmpty else { return }
        let removals = events.contains { event in
            switch event {
            case .delete, .tableDropped, .reset: true
            case .put, .tableCreated: false
            }
        }
        guard removals else { return }
        let refs = Array(heartbeats.tracked.keys)
        let gone = replica.read { directory in refs.filter { directory.entry(table: $0.table, key: $0.key) == nil } }
        for ref in gone {
            heartbeats.onRemove(table: ref.table, key: ref.key)
            unlease(table: ref.table, key: ref.key)
        }
    }

    func rearmHeartbeatTimer() {
        heartbeatTimer?.cancel()
        heartbeatTimer = nil
        guard let deadline = heartbeats.nextDeadline else { return }
        let now = Self.now()
        let delay = deadline > now ? deadline - now : .zero
        let bound = NIOLoopBound(self, eventLoop: loop)
        heartbeatTimer = loop.scheduleTask(in: TimeAmount(delay)) { bound.value.heartbeatTick() }
    }

    private func heartbeatTick() {
        heartbeatTimer = nil
        for directive in heartbeats.onTick(now: Self.now()) {
            guard case .markInvalid(let id, let key) = directive else { continue }
            guard var entry = replica.read({ $0.entry(table: id, key: key) }), entry.valid else { continue }
            entry.valid = false
            logger.info("heartbeat missed; marking invalid", metadata: ["table.id": "\(id)", "key": "\(key)"])
            submit(.put(id, entry)).whenFailure { [logger] error in
                logger.error(
                    "could not mark a missed heartbeat invalid", metadata: ["key": "\(key)", "error": "\(error)"])
            }
        }
        rearmHeartbeatTimer()
    }
}
