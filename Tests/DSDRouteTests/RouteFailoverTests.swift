import DSDTestSupport
import Foundation
import Testing

/// Route failover across simulated hosts (seed "Route Updates", FIG. 4C): the directory probes
/// both links of every host; cutting HOST1's link 0 marks `HOST1.0` invalid on every host and
/// `find` switches to link 1; restoring the link brings it back (timed over `trials` cuts).
/// Then replies that fail to send (a `prohibit` route on HOST1) must not silence the route for
/// good, and an agent that stops must leave its routes as they are. Needs root, `ip netns`,
/// `nsenter` and FUSE; without them the test fails (it never skips).
@Suite(.serialized) struct RouteFailoverTests {
    static let interval = Duration.milliseconds(100)
    static let misses = 3
    static let trials = 20

    @Test(.timeLimit(.minutes(2))) func cuttingALinkSwitchesFindToTheNextRoute() throws {
        let cluster = try RouteCluster(hosts: 3, interval: Self.interval, misses: Self.misses)
        defer { cluster.tearDown() }
        try cluster.startServer()
        for host in 1...3 { try cluster.startAgent(host) }
        try cluster.put(via: 1, "DSD_MTID_METADATA", "MDS.1.0", "HOST1:1872")
        try cluster.put(via: 1, "DSD_MTID_METADATA", "MDS.1", "HOST1:1872")

        let route0 = TestNetwork.hostAddress(1, link: 0)
        let route1 = TestNetwork.hostAddress(1, link: 1)
        let viaLink0 = "\(route0):1872"
        let viaLink1 = "\(route1):1872"
        // The directory put every announced route, valid, and everyone sees link 0 as current.
        let ready = eventually(within: .seconds(10), every: .milliseconds(5)) {
            (1...3).allSatisfy { cluster.find(on: $0, "MDS.1") == viaLink0 }
                && cluster.entry(on: 2, "DSD_HOST_ROUTE", "HOST1.1") == "\(route1) 1"
                && cluster.entry(on: 2, "DSD_HOST_ROUTE", "HOST3.1") == "\(TestNetwork.hostAddress(3, link: 1)) 1"
        }
        try #require(ready != nil, "cluster never converged on link 0: \(cluster.view())\n\(cluster.logs)")

        let invalidBound = Self.interval * Self.misses + .milliseconds(100)
        let switchTarget = Self.interval * Self.misses + .milliseconds(50)
        var invalidTimes: [Double] = []
        var switchTimes: [Double] = []
        var restoreTimes: [Double] = []
        let link0 = TestNetwork.hostInterface(1, link: 0)
        let switcher = try LinkSwitch(
            ip: cluster.network.ip, namespace: TestNetwork.hostNamespace(1), logDirectory: cluster.scratch.path)
        defer { switcher.close() }
        for trial in 0..<Self.trials {
            // A random phase between the cut and the probe rounds.
            usleep(UInt32.random(in: 0..<100_000))
            let cut = ContinuousClock.now
            try switcher.set(link0, up: false)
            var invalidAt: Duration?
            var switchedAt: Duration?
            _ = eventually(within: .seconds(3)) {
                if invalidAt == nil, cluster.entry(on: 2, "DSD_HOST_ROUTE", "HOST1.0") == "\(route0) 0" {
                    invalidAt = ContinuousClock.now - cut
                }
                if switchedAt == nil, cluster.find(on: 2, "MDS.1") == viaLink1 {
                    switchedAt = ContinuousClock.now - cut
                }
                return invalidAt != nil && switchedAt != nil
            }
            guard let invalidAt, let switchedAt else {
                let state = "\(cluster.view()) \(switcher.errors)\n\(cluster.logs)"
                Issue.record("trial \(trial): HOST1.0 never became invalid or find never switched: \(state)")
                return
            }
            invalidTimes.append(milliseconds(invalidAt))
            switchTimes.append(milliseconds(switchedAt))
            if trial == 0 {
                // Everyone reachable is told (HOST1's own agent is connected over the cut link
                // and hears of it only after reconnecting), and route 1 stayed valid.
                let told = eventually(within: .milliseconds(500)) { cluster.find(on: 3, "MDS.1") == viaLink1 }
                #expect(told != nil, "HOST3 never saw the switch: \(cluster.view())")
                #expect(cluster.entry(on: 3, "DSD_HOST_ROUTE", "HOST1.1") == "\(route1) 1")
            }

            try switcher.set(link0, up: true)
            let back = eventually(within: .seconds(3)) {
                cluster.find(on: 2, "MDS.1") == viaLink0
                    && cluster.entry(on: 2, "DSD_HOST_ROUTE", "HOST1.0") == "\(route0) 1"
            }
            guard let back else {
                let state =
                    "\(cluster.view()) \(switcher.errors)\n\(cluster.network.diagnostics(host: 1, in: cluster.scratch))"
                    + "\n\(cluster.logs)"
                Issue.record("trial \(trial): HOST1.0 never came back after the link was restored: \(state)")
                return
            }
            restoreTimes.append(milliseconds(back))
        }

        print(Self.summary("cut → HOST1.0 invalid on HOST2", invalidTimes))
        print(Self.summary("cut → find on HOST2 shows route 1 (route-failure-to-switch)", switchTimes))
        print(Self.summary("restore → find on HOST2 back on route 0", restoreTimes))
        let rebinds = (cluster.agents[1]?.stderr ?? "").components(separatedBy: "probe socket closed").count - 1
        print("HOST1 probe sockets closed by a send error during the trials (and bound again): \(rebinds)")
        print(
            "route probing: interval \(Int(milliseconds(Self.interval))) ms, K = \(Self.misses); "
                + "targets: invalid ≤ \(Int(milliseconds(invalidBound))) ms, switch p50 < \(Int(milliseconds(switchTarget))) ms"
        )
        #expect(invalidTimes.count == Self.trials)
        #expect((invalidTimes.max() ?? .infinity) <= milliseconds(invalidBound))
        #expect(Self.percentile(switchTimes, 0.5) < milliseconds(switchTarget))
        // A restored link must first answer K probes: never faster than K - 1 intervals.
        #expect((restoreTimes.min() ?? 0) >= milliseconds(Self.interval * (Self.misses - 1)))

        // Replies that cannot be sent: a `prohibit` route on HOST1 makes every reply over link 0
        // fail with EACCES, which closes the agent's socket. The route goes invalid; once
        // replies can leave again, the agent's socket must be bound again and answer.
        let prohibit = "prohibit \(TestNetwork.directoryAddress(1, link: 0))/32"
        let closedBefore = (cluster.agents[1]?.stderr ?? "").components(separatedBy: "probe socket closed").count
        try switcher.command("route add \(prohibit)")
        let blocked = eventually(within: .seconds(3)) { cluster.find(on: 2, "MDS.1") == viaLink1 }
        #expect(blocked != nil, "replies failing to send did not make HOST1.0 invalid: \(cluster.view())")
        try switcher.command("route del \(prohibit)")
        let unblocked = eventually(within: .seconds(3)) {
            cluster.find(on: 2, "MDS.1") == viaLink0
                && cluster.entry(on: 2, "DSD_HOST_ROUTE", "HOST1.0") == "\(route0) 1"
        }
        #expect(
            unblocked != nil,
            "HOST1.0 never came back after replies could be sent again: \(cluster.view()) \(switcher.errors)")
        let closedAfter = (cluster.agents[1]?.stderr ?? "").components(separatedBy: "probe socket closed").count
        #expect(closedAfter > closedBefore, "the agent's reply socket was never closed by a send error")

        // An agent that goes away is no evidence about its links: the directory stops probing
        // them (else its unanswered probes would mark both invalid within K intervals) and
        // leaves the entries as they are.
        cluster.agents[3]?.stop()
        #expect(cluster.agents[3]?.isRunning == false)
        usleep(UInt32(milliseconds(Self.interval * (Self.misses * 3)) * 1000))
        for link in 0..<2 {
            #expect(
                cluster.entry(on: 2, "DSD_HOST_ROUTE", "HOST3.\(link)")
                    == "\(TestNetwork.hostAddress(3, link: link)) 1")
        }
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return .infinity }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    static func summary(_ what: String, _ values: [Double]) -> String {
        let format = { (value: Double) in String(format: "%.1f", value) }
        return "\(what): n=\(values.count) p50=\(format(percentile(values, 0.5))) ms "
            + "max=\(format(values.max() ?? .nan)) ms min=\(format(values.min() ?? .nan)) ms"
    }
}
