import DSDEtcd

/// Where and how a directory keeps its state in etcd (`dsd server --etcd`).
public struct EtcdBackend: Sendable {
    /// The etcd members' client URLs.
    public var endpoints: [EtcdEndpoint]
    /// Every key of this directory starts with it; several directories can share one etcd.
    public var prefix: String
    public var client: EtcdSettings
    /// TTL of this server's etcd lease, which holds its election key and its presence. A
    /// master that cannot renew it for `leaseTTL - stepDownMargin` stops acting as master, so
    /// it has stopped before etcd can give the key to another server. 5 s: etcd's minimum is
    /// 2 s, and a new master takes over within this much after a master dies.
    public var leaseTTL: Int64
    /// How long a write waits for the watch to bring back its own change before the writer
    /// hears that its outcome is unknown.
    public var applyTimeout: Duration
    /// Where this server keeps its copy between runs (`EtcdCache`); nil: list etcd at start.
    public var cachePath: String?

    public init(
        endpoints: [EtcdEndpoint], prefix: String = "/dsd/", client: EtcdSettings = .default, leaseTTL: Int64 = 5,
        applyTimeout: Duration = .seconds(3), cachePath: String? = nil
    ) {
        self.cachePath = cachePath
        self.endpoints = endpoints
        self.prefix = prefix
        self.client = client
        self.leaseTTL = leaseTTL
        self.applyTimeout = applyTimeout
    }

    /// The renewal interval: a third of the TTL, so two renewals may fail before stepping down.
    var renewInterval: Duration { .milliseconds(leaseTTL * 1000 / 3) }
    /// A master steps down when its last renewal is older than TTL minus this.
    var stepDownMargin: Duration { .milliseconds(leaseTTL * 1000 / 4) }
}
