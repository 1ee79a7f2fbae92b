import DSDEtcd
import DSDTestSupport
import Testing

/// A 3-member etcd cluster and a client of all its members.
struct EtcdFixture {
    let cluster: EtcdCluster
    let client: EtcdClient

    init(settings: EtcdSettings = .testing) throws {
        cluster = try EtcdCluster()
        client = try Self.client(of: cluster, order: [0, 1, 2], settings: settings)
    }

    /// A client of the cluster's members in `order` (it starts with the first).
    static func client(of cluster: EtcdCluster, order: [Int], settings: EtcdSettings = .testing) throws -> EtcdClient {
        let endpoints = try order.map { try #require(EtcdEndpoint(url: cluster.members[$0].clientURL)) }
        return EtcdClient(endpoints: endpoints, settings: settings)
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
