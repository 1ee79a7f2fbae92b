import Testing

@testable import DSDCore

/// Transition table of `RepeatLimiter`: first failure logged, repeats within the interval
/// skipped and counted, a new reason or the end of the interval logged, success resets.
@Suite struct RepeatLimiterTests {
    typealias Decision = RepeatLimiter<String>.Decision

    enum Event {
        case failure(String, atSeconds: UInt64)
        case success
    }

    @Test func transitions() {
        var limiter = RepeatLimiter<String>(interval: .seconds(30))
        let steps: [(Event, Decision?)] = [
            (.failure("refused", atSeconds: 0), .log(suppressed: 0)),
            (.failure("refused", atSeconds: 1), .skip),
            (.failure("refused", atSeconds: 29), .skip),
            (.failure("refused", atSeconds: 30), .log(suppressed: 2)),
            (.failure("bad key", atSeconds: 31), .log(suppressed: 0)),
            (.failure("bad key", atSeconds: 32), .skip),
            (.success, nil),
            (.failure("bad key", atSeconds: 33), .log(suppressed: 0)),
        ]
        for (index, (event, expected)) in steps.enumerated() {
            switch event {
            case .failure(let reason, let seconds):
                let now = Instant(nanoseconds: seconds * 1_000_000_000)
                #expect(limiter.onFailure(reason, now: now) == expected, "step \(index)")
            case .success:
                limiter.onSuccess()
            }
        }
    }
}
