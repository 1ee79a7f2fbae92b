import DSDCore
import DSDWire

/// Receives the events of one watch. Called on the engine's loop, in replica order.
protocol WatchSink: AnyObject {
    func deliver(_ events: [WatchEvent])
}

/// A subscription (FIG. 5D): a table, a key prefix and where matching events go.
struct Watcher {
    var table: String
    var prefix: String
    weak var sink: (any WatchSink)?
}

extension AgentEngine {
    func addWatcher(_ sink: any WatchSink, table: String, prefix: String) {
        watchers[ObjectIdentifier(sink)] = Watcher(table: table, prefix: prefix, sink: sink)
    }

    func removeWatcher(_ sink: any WatchSink) {
        watchers[ObjectIdentifier(sink)] = nil
    }

    /// FIG. 5E: compares every pushed change with each subscription.
    func deliverToWatchers(_ events: [ReplicaEvent]) {
        guard !watchers.isEmpty else { return }
        for (id, watcher) in watchers {
            guard let sink = watcher.sink else {
                watchers[id] = nil
                continue
            }
            var matching: [WatchEvent] = []
            for event in events {
                switch event {
                case .put(let table, let entry, _) where table == watcher.table && entry.key.hasPrefix(watcher.prefix):
                    matching.append(.add(entry))
                case .delete(let table, let key, _) where table == watcher.table && key.hasPrefix(watcher.prefix):
                    matching.append(.delete(key: key))
                case .reset:
                    break
                default:
                    break
                }
            }
            if !matching.isEmpty { sink.deliver(matching) }
        }
    }
}
