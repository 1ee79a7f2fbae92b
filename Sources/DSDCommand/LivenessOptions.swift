import ArgumentParser
import DSDCore

/// The directory's failure-detection flags: lost agents (`--agent-timeout-ms`) and route
/// probing (`--probe-interval-ms`, `--probe-misses`).
struct LivenessOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "How long a disconnected agent's heartbeated entries stay valid, in milliseconds.")
    var agentTimeoutMs = Int(AgentLiveness.Settings.default.agentTimeout / .milliseconds(1))
    @Option(name: .long, help: "Time between two probes of each route, in milliseconds.")
    var probeIntervalMs = Int(RouteLiveness.Settings.default.interval / .milliseconds(1))
    @Option(
        name: .long,
        help: "Consecutive missed probes that mark a route invalid (and answered probes that mark it valid again).")
    var probeMisses: Int = RouteLiveness.Settings.default.threshold

    func validate() throws {
        guard agentTimeoutMs >= 1 else { throw ValidationError("--agent-timeout-ms must be at least 1") }
        guard probeIntervalMs >= 1 else { throw ValidationError("--probe-interval-ms must be at least 1") }
        guard probeMisses >= 1 else { throw ValidationError("--probe-misses must be at least 1") }
    }

    var agents: AgentLiveness.Settings { .init(agentTimeout: .milliseconds(agentTimeoutMs)) }

    var routes: RouteLiveness.Settings {
        .every(.milliseconds(probeIntervalMs), threshold: probeMisses)
    }
}
