import DSDCore
import Testing

@Suite struct DurationMillisecondsTests {
    @Test(arguments: [
        (Duration.zero, UInt64(0)),
        (.milliseconds(300), 300),
        (.microseconds(1_999), 1),
        (.seconds(3) + .nanoseconds(999_999), 3_000),
        (.milliseconds(-5), 0),
        (.seconds(Int64.max), UInt64.max),
    ])
    func wholeMilliseconds(duration: Duration, expected: UInt64) {
        #expect(duration.wholeMilliseconds == expected)
    }
}
