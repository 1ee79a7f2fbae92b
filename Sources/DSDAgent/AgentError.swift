import DSDCore
import DSDWire
import FoundationEssentials

/// Why an agent operation failed. Maps to wire codes for local clients and to errno in the
/// filesystem (in their own modules); `description` is the sentence a local client shows.
public enum AgentError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Why the directory cannot take a write now.
    public enum Unavailable: Hashable, Sendable {
        /// No connection to the directory since this moment.
        case disconnected(since: Date)
        /// The agent is stopping.
        case shuttingDown
    }

    /// The table does not exist in the replica.
    case noSuchTable(String)
    case notFound(table: String, key: String)
    /// The replica has never held the directory's state (no snapshot yet, no cache file), so
    /// it can answer nothing: an empty replica would say "not found" for everything.
    case notSynced
    /// The directory is not reachable: writes fail fast instead of being queued.
    case unavailable(Unavailable)
    /// The directory did not answer in time; the outcome is unknown.
    case timedOut
    /// The connection to the directory closed while the write waited for its answer; the
    /// outcome is unknown, as after a timeout.
    case connectionLost
    /// The directory (or the replica's validation) refused the request; the text is the
    /// directory's sentence.
    case rejected(ErrorCode, String)
    /// Resolution failed: no such instance, or no valid server or route.
    case resolve(FindError)
    /// Partition mapping in the named table failed.
    case partition(table: String, PartitionError)

    public var description: String {
        switch self {
        case .noSuchTable(let table): "no table \(table) (dsd ls lists the tables)"
        case .notFound(let table, let key): "no entry \(key) in table \(table)"
        case .notSynced:
            "the agent has not synced with the directory yet, so it has nothing to answer from (dsd status shows last_error)"
        case .unavailable(.disconnected(let since)):
            "the directory is unreachable (no connection since \(since.utcTimestamp); dsd status shows last_error): nothing was written"
        case .unavailable(.shuttingDown): "the agent is shutting down: nothing was written"
        case .timedOut:
            "the directory did not answer in time: the change may or may not have been made (dsd get shows which)"
        case .connectionLost:
            "the connection to the directory closed before it answered: the change may or may not have been made (dsd get shows which)"
        case .rejected(_, let why): why.isEmpty ? "the directory refused the request" : why
        case .resolve(let error): error.description
        case .partition(let table, let error): error.description(table: table)
        }
    }

    /// The wire code a local client receives.
    public var code: ErrorCode {
        switch self {
        case .noSuchTable: .noSuchTable
        case .notFound: .notFound
        case .notSynced, .unavailable: .unavailable
        case .timedOut, .connectionLost: .timeout
        case .rejected(let code, _): code
        case .resolve(let error): error.code
        case .partition(_, let error): error.code
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
