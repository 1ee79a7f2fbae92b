import Testing
@Test func placeholderFuse() { }
