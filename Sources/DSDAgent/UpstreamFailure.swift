import DSDWire
import Glibc
import NIOCore
import NIOPosix

/// Why the agent is not connected to a directory: the last failed attempt, or how the link was
/// lost. Logged at warning level (rate-limited by `RepeatLimiter`) and shown as `last_error`
/// in `dsd status` and `/dsd/status`, so "why am I not connected?" is answered on the host.
enum UpstreamFailure: Hashable, Sendable, CustomStringConvertible {
    /// The TCP connection could not be made (`errno`: ECONNREFUSED when nothing listens).
    case connect(AgentSettings.Endpoint, errno: Int32)
    /// No TCP connection within the connect timeout.
    case connectTimeout(AgentSettings.Endpoint)
    /// The host name does not resolve.
    case unresolved(AgentSettings.Endpoint)
    /// The authentication handshake failed (a different cluster key, another protocol version).
    case handshake(AgentSettings.Endpoint, ErrorCode, String)
    /// The peer closed the connection before the handshake completed.
    case closedDuringHandshake(AgentSettings.Endpoint)
    /// The authenticated connection closed.
    case lost(AgentSettings.Endpoint)
    /// The directory sent nothing for `PeerTiming.silenceLimit` ping intervals.
    case silent(AgentSettings.Endpoint)
    /// Anything else, as the networking library describes it.
    case other(AgentSettings.Endpoint, String)

    /// The failure of a connection attempt to `endpoint`.
    init(connecting endpoint: AgentSettings.Endpoint, _ error: any Error) {
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first {
                self.init(connecting: endpoint, first.error)
            } else {
                self = .unresolved(endpoint)
            }
        } else if let error = error as? IOError {
            self = .connect(endpoint, errno: error.errnoCode)
        } else if let error = error as? ChannelError, case .connectTimeout = error {
            self = .connectTimeout(endpoint)
        } else {
            self = .other(endpoint, String(describing: error))
        }
    }

    var description: String {
        switch self {
        case .connect(let endpoint, let errno) where errno == ECONNREFUSED:
            "cannot connect to \(endpoint): connection refused (is `dsd server` running there? --server selects another)"
        case .connect(let endpoint, let errno):
            "cannot connect to \(endpoint): \(String(cString: strerror(errno)))"
        case .connectTimeout(let endpoint):
            "cannot connect to \(endpoint): no answer (a firewall, or the wrong address?)"
        case .unresolved(let endpoint):
            "cannot connect to \(endpoint): the host name does not resolve"
        case .handshake(let endpoint, .authFailed, _):
            "the directory at \(endpoint) and this agent do not share a cluster key: both need the same --cluster-key file"
        case .handshake(let endpoint, .protocolVersion, let text):
            "the directory at \(endpoint) speaks another protocol version (\(text)): run the same dsd version on both"
        case .handshake(let endpoint, _, let text):
            "the handshake with the directory at \(endpoint) failed: \(text)"
        case .closedDuringHandshake(let endpoint):
            "\(endpoint) closed the connection during the handshake (a different cluster key, or not a dsd directory?)"
        case .lost(let endpoint):
            "the connection to the directory at \(endpoint) closed"
        case .silent(let endpoint):
            "the directory at \(endpoint) went silent (no answer to pings)"
        case .other(let endpoint, let text):
            "cannot connect to \(endpoint): \(text)"
        }
    }
}
