import Testing
@testable import DSDCore
@Test func versionOrder() { #expect(Version(epoch: 1, index: 0) > Version(epoch: 0, index: 9)) }
