import ArgumentParser
import DSDWire
import NIOCore

/// An agent's routes and probe port (`dsd agent --route … --probe-port …`).
struct RouteOptions: ParsableArguments {
    /// The probe port used when routes are given without `--probe-port`.
    static let defaultProbePort: UInt16 = 7401

    @Option(
        name: .long,
        help: """
            A network address of this host; repeat for each link. The first is route 0 \
            (DSD_HOST_ROUTE HOST.0), the next route 1, and so on. The directory probes each and \
            marks it invalid when it stops answering.
            """)
    var route: [String] = []
    @Option(name: .long, help: "UDP port on which route probes are answered (default 7401 when --route is given).")
    var probePort: UInt16?

    func validate() throws { _ = try announcements() }

    /// The routes to announce, indexed in the order given.
    func announcements() throws -> [RouteAnnouncement] {
        try route.enumerated().map { index, address in
            guard (try? SocketAddress(ipAddress: address, port: 0)) != nil else {
                throw ValidationError("--route expects an IP address, got '\(address)'")
            }
            return RouteAnnouncement(index: UInt32(index), address: address)
        }
    }

    /// The port to answer probes on; 0 (none) when no route is given.
    var resolvedProbePort: UInt16 {
        route.isEmpty ? 0 : (probePort ?? Self.defaultProbePort)
    }
}
