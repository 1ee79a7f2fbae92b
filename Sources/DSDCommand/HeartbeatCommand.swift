import ArgumentParser
import DSDClient

struct HeartbeatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heartbeat",
        abstract: "Touch an entry's heartbeat: it stays valid while touched within its Time_Max.",
        discussion: """
            Example (a server keeping its instance alive):
              while true; do
                dsd heartbeat DSD_MTID_METADATA MDS.1.0 --time-max-ms 3000; sleep 1
              done
            The local agent marks the entry invalid when no touch arrives within Time_Max,
            and the directory does so when the agent itself disappears. An invalid entry is
            made valid again by the next touch. Without --time-max-ms the entry's last
            Time_Max is reused (3 s for an entry never touched).
            """
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "Table name, e.g. DSD_MTID_METADATA.") var table: String
    @Argument(help: "Entry key, e.g. MDS.1.0.") var key: String
    @Option(name: .customLong("time-max-ms"), help: "Time_Max in milliseconds (at least 1).")
    var timeMaxMillis: Int?

    func validate() throws {
        if let timeMaxMillis, timeMaxMillis < 1 { throw ValidationError("--time-max-ms must be at least 1") }
    }

    func run() throws {
        let timeMax = timeMaxMillis.map { Duration.milliseconds($0) }
        _ = try runClient { try client.connect().heartbeat(table: table, key: key, timeMax: timeMax) }
    }
}
