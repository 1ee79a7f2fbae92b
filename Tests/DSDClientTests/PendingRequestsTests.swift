import Testing

@testable import DSDClient

@Suite struct PendingRequestsTests {
    typealias Tracker = PendingRequests<Int>

    @Test func submitSendsToTheResolvedRoute() {
        var tracker = Tracker()
        #expect(
            tracker.onSubmit(1, instance: "MDS.1", resolution: .route("16.7.13.1:1872")) == [
                .submit(1, route: "16.7.13.1:1872")
            ])
        #expect(tracker.route(of: 1) == "16.7.13.1:1872")
    }

    @Test func unchangedRouteDoesNothing() {
        var tracker = Tracker()
        _ = tracker.onSubmit(1, instance: "MDS.1", resolution: .route("a:1"))
        #expect(tracker.onRoutesChanged { _ in .route("a:1") }.isEmpty)
    }

    @Test func failedPrimaryRedirectsEveryPendingRequestOnce() {
        var tracker = Tracker()
        for id in 0..<3 { _ = tracker.onSubmit(id, instance: "MDS.1", resolution: .route("old:1872")) }
        _ = tracker.onSubmit(9, instance: "MDS.2", resolution: .route("other:1872"))
        var resolutions = 0
        let directives = tracker.onRoutesChanged { instance in
            resolutions += 1
            return instance == "MDS.1" ? .route("new:1872") : .route("other:1872")
        }
        #expect(resolutions == 2)  // each instance resolved once
        #expect(
            directives == [
                .cancel(0, route: "old:1872"), .submit(0, route: "new:1872"),
                .cancel(1, route: "old:1872"), .submit(1, route: "new:1872"),
                .cancel(2, route: "old:1872"), .submit(2, route: "new:1872"),
            ])
        // A second notification with the same routes does not resubmit.
        #expect(tracker.onRoutesChanged { $0 == "MDS.1" ? .route("new:1872") : .route("other:1872") }.isEmpty)
    }

    @Test func unreachableHoldsUntilARouteReturns() {
        var tracker = Tracker()
        _ = tracker.onSubmit(1, instance: "MDS.1", resolution: .route("a:1"))
        #expect(tracker.onRoutesChanged { _ in .unreachable } == [.cancel(1, route: "a:1")])
        #expect(tracker.route(of: 1) == nil)
        #expect(tracker.onRoutesChanged { _ in .unreachable }.isEmpty)
        #expect(tracker.onRoutesChanged { _ in .route("b:1") } == [.submit(1, route: "b:1")])
    }

    @Test func goneInstanceFailsTheRequest() {
        var tracker = Tracker()
        _ = tracker.onSubmit(1, instance: "MDS.1", resolution: .route("a:1"))
        #expect(tracker.onRoutesChanged { _ in .gone } == [.cancel(1, route: "a:1"), .fail(1, instance: "MDS.1")])
        #expect(tracker.count == 0)
        #expect(tracker.onSubmit(2, instance: "MDS.9", resolution: .gone) == [.fail(2, instance: "MDS.9")])
    }

    @Test func completedRequestsAreNotRedirected() {
        var tracker = Tracker()
        _ = tracker.onSubmit(1, instance: "MDS.1", resolution: .route("a:1"))
        tracker.onCompleted(1)
        #expect(tracker.onRoutesChanged { _ in .route("b:1") }.isEmpty)
    }
}
