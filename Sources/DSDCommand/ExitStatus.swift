import ArgumentParser
import DSDClient
import DSDPosix
import DSDWire
import FoundationEssentials
import Glibc

/// Exit codes a script can rely on, and the mapping from typed errors to them.
enum ExitStatus {
    static let notFound: Int32 = 1
    static let usage: Int32 = 2
    static let unreachable: Int32 = 3
    static let agentUnreachable: Int32 = 4
    static let notCommitted: Int32 = 5
    static let rejected: Int32 = 6
    static let other: Int32 = 7

    /// Prints the error on standard error and returns the exit code for it.
    static func fail(_ error: any Error) -> ExitCode {
        let (code, text) = describe(error)
        printError("dsd: \(text)")
        return ExitCode(code)
    }

    static func describe(_ error: any Error) -> (Int32, String) {
        guard let error = error as? ClientError else { return (other, "\(error)") }
        switch error {
        case .agentUnreachable(let path, let reason):
            return (
                agentUnreachable,
                "cannot reach the agent at \(path): \(reason) (is `dsd agent` or `dsd up` running? --socket selects another)"
            )
        case .timedOut:
            return (notCommitted, "timed out waiting for the agent")
        case .protocolError(let text):
            return (other, "protocol error: \(text)")
        case .failed(let code, let message):
            let text = message.isEmpty ? "\(code)" : message
            return (exitCode(for: code), text)
        }
    }

    static func exitCode(for code: ErrorCode) -> Int32 {
        switch code {
        case .notFound, .noSuchTable: notFound
        case .noValidServer, .noValidRoute: unreachable
        case .unavailable, .timeout: notCommitted
        case .invalidKey, .invalidValue, .tableExists, .tooManyTables, .malformed, .notEmpty: rejected
        default: other
        }
    }
}

func printError(_ text: String) {
    Streams.printError(text)
}
