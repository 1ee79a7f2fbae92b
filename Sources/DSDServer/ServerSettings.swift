import DSDCore
import DSDLog
import DSDWire

/// Everything `dsd server` needs to run; built by the command target from its flags.
public struct ServerSettings: Sendable {
    /// Address to listen on. Loopback by default: a directory is exposed on purpose.
    public var host: String
    public var port: Int
    /// Directory holding the write-ahead log and its snapshots.
    public var dataDirectory: String
    public var clusterKey: ClusterKey
    /// This directory's name, sent in `hello`.
    public var name: String
    public var directory: Directory.Settings
    public var log: LogSettings
    public var promotion: Promotion.Settings
    /// Bytes that may wait in one agent's outbound buffer before the directory stops feeding
    /// it and resynchronises it later. 1 MiB holds thousands of changes: a healthy agent on a
    /// LAN never gets near it, and a stuck one costs at most this much.
    public var maxPendingBytesPerPeer: Int
    /// A connection that has not authenticated within this time is closed (half-open or
    /// hostile peers must not pin resources).
    public var handshakeTimeout: Duration
    /// An authenticated peer that sends nothing for this long is considered gone and its
    /// connection closed. Defaults to `PeerTiming.idleTimeout`, five of the agents' ping
    /// intervals; the agent's leases then expire after `liveness.agentTimeout`.
    public var idleTimeout: Duration
    /// A snapshot of the directory is written to the log, and older segments compacted,
    /// after this many changes.
    public var snapshotEvery: Int
    /// Most simultaneous connections; further connects are refused at accept.
    public var maxConnections: Int
    /// Lost-agent detection: how long a disconnected agent's heartbeated entries stay valid.
    public var liveness: AgentLiveness.Settings = .default
    /// Route probing (`RouteProber`): probe interval, K, reply deadline.
    public var routeProbing: RouteLiveness.Settings = .default
    /// Keep the directory in etcd instead of the write-ahead log in `dataDirectory`.
    public var etcd: EtcdBackend?

    public init(
        host: String = "127.0.0.1",
        port: Int = 7400,
        dataDirectory: String,
        clusterKey: ClusterKey,
        name: String = "directory",
        directory: Directory.Settings = .default,
        log: LogSettings = .default,
        promotion: Promotion.Settings = .default,
        maxPendingBytesPerPeer: Int = 1 << 20,
        handshakeTimeout: Duration = .seconds(5),
        idleTimeout: Duration = PeerTiming.idleTimeout,
        snapshotEvery: Int = 50_000,
        maxConnections: Int = 20_000
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.clusterKey = clusterKey
        self.name = name
        self.directory = directory
        self.log = log
        self.promotion = promotion
        self.maxPendingBytesPerPeer = maxPendingBytesPerPeer
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.snapshotEvery = snapshotEvery
        self.maxConnections = maxConnections
    }

    /// Fast timers and small limits for tests.
    public static func testing(dataDirectory: String, clusterKey: ClusterKey, port: Int = 0) -> ServerSettings {
        ServerSettings(
            port: port, dataDirectory: dataDirectory, clusterKey: clusterKey,
            directory: .init(retainedChanges: 1024), log: .testing,
            maxPendingBytesPerPeer: 64 << 10, handshakeTimeout: .seconds(1),
            idleTimeout: .seconds(3), snapshotEvery: 2_000)
    }
}
