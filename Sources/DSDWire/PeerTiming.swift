/// The keep-alive contract between an agent (or node) and its directory: the agent pings every
/// `pingInterval`; either side that reads nothing from the other for `silenceLimit` intervals
/// closes the connection. Both sides take their defaults from here so the directory's
/// expectation always matches what agents send.
public enum PeerTiming {
    /// One second: cheap (a 10-byte frame per agent per second) and fine-grained enough that a
    /// hung agent is noticed within seconds.
    public static let pingInterval: Duration = .seconds(1)
    /// Five missed pings: rides out a loaded machine or a GC-less but busy event loop without
    /// flapping, yet bounds detection of a silent (hung, not closed) peer to five seconds.
    public static let silenceLimit = 5
    /// `pingInterval × silenceLimit`: the directory's `idleTimeout` default.
    public static let idleTimeout: Duration = pingInterval * silenceLimit
}
