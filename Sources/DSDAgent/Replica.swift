import DSDCore
import Synchronization

/// The agent's full copy of the directory, readable from any thread.
///
/// Changes are applied by the upstream link (one writer); lookups come from the local socket
/// and from filesystem threads. A `Mutex` around a value-type `Directory` keeps both simple:
/// readers copy out what they need (copy-on-write makes a whole-directory copy O(1)).
public final class Replica: Sendable {
    struct State: Sendable {
        var directory: Directory
        /// True once the replica holds the directory's state (from a snapshot, a delta or the
        /// cache file); false for a fresh agent that has never synced.
        var seeded: Bool
    }

    private let state: Mutex<State>

    init(directory: Directory, seeded: Bool) {
        state = Mutex(State(directory: directory, seeded: seeded))
    }

    /// A consistent copy of the whole replica.
    public var directory: Directory { state.withLock { $0.directory } }

    public var version: Version { state.withLock { $0.directory.version } }

    var seeded: Bool { state.withLock { $0.seeded } }

    /// The version to resume from, or nil when a snapshot is needed.
    var resumeVersion: Version? {
        state.withLock { $0.seeded ? $0.directory.version : nil }
    }

    public func read<T>(_ body: (Directory) throws -> T) rethrows -> T {
        try state.withLock { try body($0.directory) }
    }

    /// Applies pushed changes in order; returns the events they produced. A change that does
    /// not apply means this replica diverged: the caller resynchronises with a snapshot.
    func apply(_ changes: [Change]) throws(DirectoryError) -> [ReplicaEvent] {
        try state.withLock { (state) throws(DirectoryError) -> [ReplicaEvent] in
            var events: [ReplicaEvent] = []
            for change in changes {
                // The events are read off the state before the change; holding a copy of the
                // directory across `apply` would make every change copy the paths it touches.
                let produced = ReplicaEvent.of(change.mutation, before: state.directory)
                try state.directory.apply(change)
                events += produced
            }
            return events
        }
    }

    /// Makes `fresh` (built from a snapshot) the replica.
    func install(_ fresh: Directory) {
        state.withLock { state in
            state.directory = fresh
            state.seeded = true
        }
    }
}
