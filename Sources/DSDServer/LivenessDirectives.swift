import DSDCore
import Dispatch
import Logging
import NIOCore

/// Carries out what an `AgentLiveness` machine decides, for any engine that runs one (the log
/// directory, the etcd master): one timer on the loop, re-armed on each request, and a put of
/// `valid = 0` for a lost agent's entry that still holds the value its lease protects.
enum LivenessDirectives {
    /// The clock every liveness machine of the server is driven by (monotonic).
    static func now() -> Instant { Instant(nanoseconds: DispatchTime.now().uptimeNanoseconds) }

    /// Returns the timer to keep (the previous one, or its replacement).
    static func carryOut(
        _ directives: [AgentLivenessDirective], timer: Scheduled<Void>?, loop: any EventLoop, logger: Logger,
        directory: Directory, commit: (Mutation) -> Void, tick: @escaping @Sendable () -> Void
    ) -> Scheduled<Void>? {
        var timer = timer
        for directive in directives {
            switch directive {
            case .armTimer(let at):
                timer?.cancel()
                let now = Self.now()
                let delay = at > now ? at - now : .zero
                timer = loop.scheduleTask(in: TimeAmount(delay), tick)
            case .markInvalid(let table, let key, let value):
                guard var entry = directory.entry(table: table, key: key), entry.valid, entry.value == value else {
                    continue
                }
                entry.valid = false
                logger.notice(
                    "agent lost; marking its heartbeated entry invalid",
                    metadata: ["table.id": "\(table)", "key": "\(key)"])
                commit(.put(table, entry))
            }
        }
        return timer
    }
}
