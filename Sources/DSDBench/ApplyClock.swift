import DSDAgent
import DSDCore
import Dispatch
import Synchronization

/// Records when an agent's replica applied the entry a benchmark is waiting for. Installed
/// with `Agent.observe`, so the instant is taken on the agent's loop right after the replica
/// changed — the moment a reader on that host can see the new value.
final class ApplyClock: Sendable {
    private struct State {
        var expected: Entry?
        var appliedAt: UInt64?
    }

    private let state = Mutex(State())
    private let arrived = DispatchSemaphore(value: 0)

    init(agent: Agent, table: String) {
        agent.observe { [self] events in
            let now = monotonicNanoseconds()
            for event in events {
                guard case .put(let name, let entry, _) = event, name == table else { continue }
                let matched = state.withLock { state -> Bool in
                    guard state.appliedAt == nil, state.expected == entry else { return false }
                    state.appliedAt = now
                    return true
                }
                if matched { arrived.signal() }
            }
        }
    }

    /// Arms the clock for the next put of `entry`.
    func expect(_ entry: Entry) {
        state.withLock {
            $0.expected = entry
            $0.appliedAt = nil
        }
    }

    /// The instant `entry` was applied, or nil after `timeoutNanoseconds`.
    func wait(timeoutNanoseconds: UInt64) -> UInt64? {
        guard arrived.wait(timeout: .now() + .nanoseconds(Int(timeoutNanoseconds))) == .success else { return nil }
        return state.withLock { $0.appliedAt }
    }
}
