import Testing

/// Every suite that starts etcd processes, one test at a time even when the test run is
/// parallel: the tests measure how long failover takes, and three members per test already
/// keep two cores busy.
@Suite(.serialized) struct EtcdProcessTests {}
