import Testing
@testable import DSDLog
@Test func placeholder() { }
