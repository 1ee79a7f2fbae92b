import DSDCore
import DSDWire

/// Leases: the agent tells the directory which entries it watches over with heartbeats, so
/// that the directory can mark them invalid when this agent disappears (`AgentLiveness` on
/// the directory). A lease is sent when a touch first tracks an entry or changes its Time_Max,
/// an unlease when the entry is deleted, and every lease again after each (re)connect.
extension AgentEngine {
    /// Every tracked entry, right after `announce` on a new connection.
    func sendLeases(_ handler: UpstreamHandler) {
        for (ref, timeMax) in heartbeats.tracked.sorted(by: { $0.key.key < $1.key.key }) {
            handler.send(.lease(table: ref.table, key: ref.key, timeMaxMillis: timeMax.wholeMilliseconds))
        }
    }

    /// After a touch: leases the entry if it was not tracked before or its Time_Max changed.
    /// Not connected: the lease goes out with all others on the next connect.
    func leaseIfChanged(table: TableID, key: String, previous: Duration?) {
        let current = heartbeats.timeMax(table: table, key: key)
        guard previous != current, let handler = upstream else { return }
        handler.send(.lease(table: table, key: key, timeMaxMillis: current.wholeMilliseconds))
    }

    /// The entry is no longer tracked (deleted).
    func unlease(table: TableID, key: String) {
        guard let handler = upstream else { return }
        handler.send(.unlease(table: table, key: key))
    }
}
