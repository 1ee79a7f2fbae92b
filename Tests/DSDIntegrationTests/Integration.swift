import DSDTestSupport
import Testing

/// The umbrella suite: every integration test runs one at a time, because they start real
/// processes on a small machine and measure timing.
@Suite(.serialized) struct Integration {}
