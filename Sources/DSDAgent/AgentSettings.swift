import DSDCore
import DSDWire

/// Everything `dsd agent` needs to run; built by the command target from its flags.
public struct AgentSettings: Sendable {
    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        /// Parses `HOST:PORT`.
        public init?(parsing text: some StringProtocol) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                (1...65535).contains(port), colon != text.startIndex
            else { return nil }
            self.host = String(text[..<colon])
            self.port = port
        }
        public var description: String { "\(host):\(port)" }
    }

    /// Directories to connect to, tried in order.
    public var servers: [Endpoint]
    /// This host's name (`HOST9`), announced to the directory.
    public var hostName: String
    public var clusterKey: ClusterKey
    /// The Unix socket local clients use. Under `/run/dsd/` by default so that several agents
    /// on one machine each get their own with `--socket`.
    public var socketPath: String
    /// Where the replica is kept between runs, so an agent restarted while the directory is
    /// away still serves the last replica (marked stale). nil: no cache.
    public var cachePath: String?
    /// The replica's settings. An agent serves no deltas, so it retains no changes.
    public var directory: Directory.Settings
    public var heartbeat: HeartbeatTracker.Settings
    /// First reconnect delay; doubled per failure up to `reconnectMax`, with ±50% jitter so a
    /// thousand agents do not reconnect in lockstep after a directory restart.
    public var reconnectMin: Duration
    public var reconnectMax: Duration
    /// How long a write waits for the directory's commit before failing with a timeout.
    public var requestTimeout: Duration
    /// Ping period (`PeerTiming.pingInterval`); the directory drops agents silent for its idle
    /// timeout (`PeerTiming.idleTimeout`), and the agent drops a directory silent for
    /// `PeerTiming.silenceLimit` intervals.
    public var pingInterval: Duration
    /// How long to wait for a connection and handshake before trying the next directory.
    public var connectTimeout: Duration
    /// How often the replica cache is rewritten when it changed.
    public var cacheInterval: Duration
    /// Events a local `watch` client may fall behind before it gets `RESCAN`.
    public var watchQueueLimit: Int
    /// This host's routes (`DSD_HOST_ROUTE` `HOST.<index>` → address), announced to the
    /// directory, which probes them. Empty: the host takes no part in route probing.
    public var routes: [RouteAnnouncement]
    /// UDP port on which route probes are answered (0: none).
    public var probePort: UInt16
    /// Random per process, so the directory tells a restart from a reconnect.
    public var bootID: UInt64
    /// Group given access to the local socket (mode 0660); nil keeps the creating user's
    /// group. Writes through the socket are as powerful as writes to the mount, so the socket
    /// is limited to the owner and the writer group.
    public var socketGroup: UInt32?

    public init(
        servers: [Endpoint], hostName: String, clusterKey: ClusterKey, socketPath: String,
        cachePath: String? = nil, directory: Directory.Settings = Directory.Settings(retainedChanges: 0),
        heartbeat: HeartbeatTracker.Settings = .default,
        reconnectMin: Duration = .milliseconds(50), reconnectMax: Duration = .seconds(2),
        requestTimeout: Duration = .seconds(5), pingInterval: Duration = PeerTiming.pingInterval,
        connectTimeout: Duration = .seconds(2), cacheInterval: Duration = .seconds(1),
        watchQueueLimit: Int = 4096, routes: [RouteAnnouncement] = [], probePort: UInt16 = 0,
        bootID: UInt64 = UInt64.random(in: 1...UInt64.max), socketGroup: UInt32? = nil
    ) {
        self.servers = servers
        self.hostName = hostName
        self.clusterKey = clusterKey
        self.socketPath = socketPath
        self.cachePath = cachePath
        self.directory = directory
        self.heartbeat = heartbeat
        self.reconnectMin = reconnectMin
        self.reconnectMax = reconnectMax
        self.requestTimeout = requestTimeout
        self.pingInterval = pingInterval
        self.connectTimeout = connectTimeout
        self.cacheInterval = cacheInterval
        self.watchQueueLimit = watchQueueLimit
        self.routes = routes
        self.probePort = probePort
        self.bootID = bootID
        self.socketGroup = socketGroup
    }
}
