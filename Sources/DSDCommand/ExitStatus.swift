import ArgumentParser
import DSDAgent
import DSDClient
import DSDPosix
import DSDWire
import Glibc

/// The exit codes a script can rely on (the README's table, printed by `dsd --help`), and
/// the one mapping from typed errors to an exit code and the sentence on standard error.
enum ExitStatus: Int32, CaseIterable {
    case ok = 0
    case notFound = 1
    case usage = 2
    case unreachable = 3
    case agentUnreachable = 4
    case notCommitted = 5
    case rejected = 6
    case other = 7

    /// What the code means, as the README's table says it.
    var meaning: String {
        switch self {
        case .ok: "ok"
        case .notFound: "not found"
        case .usage: "usage"
        case .unreachable: "no valid server or route"
        case .agentUnreachable: "agent not reachable"
        case .notCommitted: "not committed (directory unreachable or timed out)"
        case .rejected: "rejected (invalid input)"
        case .other: "other failure"
        }
    }

    /// "Exit status: 0 ok, 1 not found, …", the sentence of the README and `dsd --help`.
    static var summary: String {
        "Exit status: " + allCases.map { "\($0.rawValue) \($0.meaning)" }.joined(separator: ", ") + "."
    }

    /// Prints the error as `dsd: <sentence>` on standard error and returns its exit code.
    static func fail(_ error: any Error) -> ExitCode {
        let (status, text) = describe(error)
        printError("dsd: \(text)")
        return ExitCode(status.rawValue)
    }

    static func describe(_ error: any Error) -> (ExitStatus, String) {
        if let error = error as? ClientError { return describe(error) }
        if let error = error as? AgentError { return (status(for: error.code), error.description) }
        if let error = error as? CommandError { return (status(for: error), error.description) }
        if let error = error as? ValidationError { return (.usage, error.message) }
        return (.other, String(describing: error))
    }

    static func describe(_ error: ClientError) -> (ExitStatus, String) {
        switch error {
        case .agentUnreachable(let path, let why):
            return (.agentUnreachable, unreachableSentence(path: path, why))
        case .timedOut:
            return (.notCommitted, "the agent did not answer in time (--timeout sets how long to wait)")
        case .protocolError(let text):
            return (.other, "the agent's answer was not understood (\(text)); are dsd and the agent the same version?")
        case .failed(let code, let message):
            return (status(for: code), message.isEmpty ? "the agent refused the request" : message)
        case .failedInBatch(_, let code, let message):
            return (status(for: code), message.isEmpty ? "the agent refused the batch" : message)
        case .invalid(let error):
            return (.rejected, error.description)
        }
    }

    static func unreachableSentence(path: String, _ why: ClientError.Unreachable) -> String {
        let running = "is `dsd agent` or `dsd up` running? (--socket selects another socket)"
        switch why {
        case .system(let code) where code == ENOENT:
            return "no agent socket at \(path): \(running)"
        case .system(let code) where code == ECONNREFUSED:
            return "nothing answers on \(path) (a socket left by a stopped agent?): \(running)"
        case .system(let code) where code == EACCES || code == EPERM:
            return
                "permission denied on the agent's socket \(path): only its owner and the writer group (--writer-group) may use it; reads through the mount (/dsd/tables/…) are open to everyone"
        case .system(let code):
            return "cannot reach the agent at \(path): \(String(cString: strerror(code))); \(running)"
        case .closed:
            return "the agent at \(path) closed the connection (it is stopping?)"
        case .pathTooLong:
            return "the socket path \(path) is too long for a Unix socket (at most 107 bytes)"
        case .noThread:
            return "cannot start a thread to talk to the agent at \(path)"
        }
    }

    static func status(for error: CommandError) -> ExitStatus {
        switch error {
        case .seedInvalid: .rejected
        case .clusterKeyMissing, .clusterKeyUnreadable, .clusterKeyInvalid, .clusterKeyExposed, .cannotWrite,
            .cannotCreateDirectory, .cannotListen, .dataDirectory, .mountpointMissing, .mountpointNotDirectory,
            .cannotMount, .seedUnreadable, .seedNotSynced, .etcdUnusable, .etcdDirectory:
            .other
        }
    }

    /// The exit code for a wire error code.
    static func status(for code: ErrorCode) -> ExitStatus {
        switch code {
        case .notFound, .noSuchTable: .notFound
        case .noValidServer, .noValidRoute: .unreachable
        case .unavailable, .timeout, .staleVersion, .resync: .notCommitted
        case .invalidKey, .invalidValue, .invalidTableName, .tableExists, .tooManyTables, .tableFull, .notPermitted,
            .malformed, .notEmpty, .invalidBatch:
            .rejected
        case .protocolVersion, .authFailed, .internal: .other
        }
    }
}

func printError(_ text: String) {
    Streams.printError(text)
}
