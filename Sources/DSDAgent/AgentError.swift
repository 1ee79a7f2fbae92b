import DSDCore
import DSDWire

/// Why an agent operation failed. Maps to wire codes for local clients and to errno in the
/// filesystem (in their own modules).
public enum AgentError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The table does not exist in the replica.
    case noSuchTable(String)
    case notFound(table: String, key: String)
    /// The directory is not reachable: writes fail fast instead of being queued.
    case unavailable(String)
    /// The directory did not answer in time; the outcome is unknown.
    case timedOut
    /// The directory (or the replica's validation) refused the request.
    case rejected(ErrorCode, String)
    /// Resolution failed: no such instance, or no valid server or route.
    case resolve(FindError)
    case partition(PartitionError)

    public var description: String {
        switch self {
        case .noSuchTable(let table): "no such table: \(table)"
        case .notFound(let table, let key): "no entry \(key) in \(table)"
        case .unavailable(let why): "directory unavailable: \(why)"
        case .timedOut: "timed out waiting for the directory to commit"
        case .rejected(let code, let why): why.isEmpty ? "rejected: \(code)" : why
        case .resolve(let error): "\(error)"
        case .partition(let error): "\(error)"
        }
    }

    /// The wire code a local client receives.
    public var code: ErrorCode {
        switch self {
        case .noSuchTable: .noSuchTable
        case .notFound: .notFound
        case .unavailable: .unavailable
        case .timedOut: .timeout
        case .rejected(let code, _): code
        case .resolve(let error): error.code
        case .partition(let error): error.code
        }
    }
}

extension FindError {
    public var code: ErrorCode {
        switch self {
        case .noSuchInstance: .notFound
        case .noValidServer: .noValidServer
        case .noValidRoute: .noValidRoute
        case .malformedRoute: .noValidServer
        case .noSuchTable: .noSuchTable
        }
    }
}

extension PartitionError {
    public var code: ErrorCode {
        switch self {
        case .noSuchTable: .noSuchTable
        case .find(let error): error.code
        case .noSuchPartition: .notFound
        case .invalidPartition: .noValidServer
        }
    }
}
