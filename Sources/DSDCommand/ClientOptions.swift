import ArgumentParser
import DSDClient

/// Options shared by every command that talks to the local agent.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "The local agent's Unix socket.")
    var socket: String = AgentClient.defaultSocketPath

    @Option(name: .long, help: "Seconds to wait for the agent (and for a commit) before giving up.")
    var timeout: Double = 5

    func connect() throws -> AgentClient {
        do {
            return try AgentClient(socketPath: socket, timeout: .milliseconds(Int(timeout * 1000)))
        } catch {
            throw ExitStatus.fail(error)
        }
    }
}
