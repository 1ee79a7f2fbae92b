import ArgumentParser
import DSDCore

/// The directory's route-probing flags (`dsd server --probe-interval-ms … --probe-misses …`).
struct ProbeOptions: ParsableArguments {
    @Option(name: .long, help: "Time between two probes of each route, in milliseconds.")
    var probeIntervalMs = Int(RouteLiveness.Settings.default.interval / .milliseconds(1))
    @Option(
        name: .long,
        help: "Consecutive missed probes that mark a route invalid (and answered probes that mark it valid again).")
    var probeMisses: Int = RouteLiveness.Settings.default.threshold

    func validate() throws {
        guard probeIntervalMs >= 1 else { throw ValidationError("--probe-interval-ms must be at least 1") }
        guard probeMisses >= 1 else { throw ValidationError("--probe-misses must be at least 1") }
    }

    var settings: RouteLiveness.Settings {
        .every(.milliseconds(probeIntervalMs), threshold: probeMisses)
    }
}
