import DSDPosix

/// Why an agent could not start, before it serves anything.
public enum AgentStartError: Error, Sendable, CustomStringConvertible {
    /// Another agent holds the lock of this socket (`SOCKET.lock`) or replica cache
    /// (`CACHE.lock`): two agents on one socket would take each other's clients, and on one
    /// cache overwrite each other's replica.
    case inUse(what: String, path: String, pid: Int32?)
    /// The lock file cannot be created or locked.
    case unusable(what: String, path: String, PosixError)

    public var description: String {
        switch self {
        case .inUse(let what, let path, let pid):
            "the \(what) \(path) is in use by another dsd agent" + (pid.map { " (pid \($0))" } ?? "")
                + "; stop it first, or give this one another --\(what == "socket" ? "socket" : "cache")"
        case .unusable(let what, let path, let error):
            "cannot use the \(what) \(path): \(error.operation): \(error.reason)"
        }
    }

    /// Takes `path + ".lock"` for the agent's `what` ("socket" or "replica cache"), creating
    /// its directory if needed.
    static func lock(_ what: String, at path: String) throws(AgentStartError) -> LockFile {
        do throws(LockFile.Failure) {
            return try LockFile.acquire(path + ".lock")
        } catch {
            switch error {
            case .held(_, let pid): throw .inUse(what: what, path: path, pid: pid)
            case .unusable(let reason): throw .unusable(what: what, path: path, reason)
            }
        }
    }
}
