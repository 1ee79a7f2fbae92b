import Testing

@testable import DSDCore

@Suite struct FindTests {
    @Test func hostRoutesOfFigure2D() throws {
        let directory = try figureDirectory()
        #expect(directory.currentRoute(host: "HOST0") == .success("10.7.6.4"))
        // 10.17.6.4 is invalid, so the alternate route is current.
        #expect(directory.currentRoute(host: "HOST1") == .success("10.16.0.2"))
        #expect(directory.currentRoute(host: "HOST9") == .success("16.7.13.1"))
        #expect(directory.currentRoute(host: "HOST5") == .failure(.noValidRoute(host: "HOST5")))
    }

    @Test func routeFailoverFollowsValidity() throws {
        var directory = try figureDirectory()
        try put(&directory, .hostRoute, "HOST0.0", "10.7.6.4", valid: false)
        #expect(directory.currentRoute(host: "HOST0") == .success("10.8.6.4"))
        try put(&directory, .hostRoute, "HOST0.1", "10.8.6.4", valid: false)
        #expect(directory.currentRoute(host: "HOST0") == .failure(.noValidRoute(host: "HOST0")))
        try put(&directory, .hostRoute, "HOST0.0", "10.7.6.4", valid: true)
        #expect(directory.currentRoute(host: "HOST0") == .success("10.7.6.4"))
    }

    @Test func routesOrderNumericallyAndMatchWholeHostNames() throws {
        var directory = Directory(epoch: 1, settings: .testing)
        try put(&directory, .hostRoute, "HOST9.10", "a.10")
        try put(&directory, .hostRoute, "HOST9.2", "a.2")
        #expect(directory.currentRoute(host: "HOST9") == .success("a.2"))
        // HOST1.0 is not a route of HOST10, nor HOST10.0 of HOST1, nor HOST1.x of HOST1.
        try put(&directory, .hostRoute, "HOST1.0", "b.0")
        try put(&directory, .hostRoute, "HOST10.5", "c.5")
        try put(&directory, .hostRoute, "HOST1.x", "bad")
        try put(&directory, .hostRoute, "HOST1.0.1", "bad")
        #expect(directory.currentRoute(host: "HOST10") == .success("c.5"))
        #expect(directory.currentRoute(host: "HOST1") == .success("b.0"))
        try put(&directory, .hostRoute, "HOST1.0", "b.0", valid: false)
        #expect(directory.currentRoute(host: "HOST1") == .failure(.noValidRoute(host: "HOST1")))
        // Leading zeros compare by value; long numbers do not overflow.
        try put(&directory, .hostRoute, "HOST7.99999999999999999999999", "big")
        try put(&directory, .hostRoute, "HOST7.0003", "three")
        #expect(directory.currentRoute(host: "HOST7") == .success("three"))
    }

    @Test func serverRouteParsing() {
        #expect(ServerRoute(parsing: "HOST9:1872") == ServerRoute(host: "HOST9", identity: "1872"))
        #expect(
            ServerRoute(parsing: "HOST9:1872:obj:key")
                == ServerRoute(host: "HOST9", identity: "1872:obj:key"))
        #expect(ServerRoute(parsing: "HOST9") == nil)
        #expect(ServerRoute(parsing: ":1872") == nil)
        #expect(ServerRoute(parsing: "HOST9:") == nil)
        #expect(
            CompleteRoute(address: "16.7.13.1", identity: "1872").description == "16.7.13.1:1872")
    }

    @Test func findServerOfFigure5B() throws {
        let directory = try figureDirectory()
        #expect(directory.findServer("MDS.1").map(\.description) == .success("16.7.13.1:1872"))
        #expect(directory.findServer("MDS.1.0").map(\.description) == .success("16.7.13.11:1872"))
        #expect(directory.findServer("GW.1").map(\.description) == .success("10.7.6.4:1700"))
        #expect(directory.findServer("BSS.4").map(\.description) == .success("10.16.0.2:1900"))
        #expect(
            directory.findServer("MDS.1", in: StandardTable.metadata.id)
                == .success(CompleteRoute(address: "16.7.13.1", identity: "1872")))
    }

    @Test func findServerOutcomes() throws {
        var directory = try figureDirectory()
        #expect(directory.findServer("MDS.9") == .failure(.noSuchInstance("MDS.9")))
        #expect(
            directory.findServer("MDS.1", in: StandardTable.gateway.id)
                == .failure(.noSuchInstance("MDS.1")))
        #expect(
            directory.findServer("x", in: TableID(4000)) == .failure(.noSuchTable(TableID(4000))))
        try put(&directory, .metadata, "MDS.7", "HOST9:1872", valid: false)
        #expect(directory.findServer("MDS.7") == .failure(.noValidServer("MDS.7")))
        try put(&directory, .metadata, "MDS.8", "HOST4:1872")
        #expect(directory.findServer("MDS.8") == .failure(.noValidRoute(host: "HOST4")))
        try put(&directory, .metadata, "MDS.9", "HOST9")
        #expect(directory.findServer("MDS.9") == .failure(.malformedRoute("HOST9")))
    }

    @Test func findServerSearchesGatewayThenMetadataThenBSS() throws {
        var directory = try figureDirectory()
        try put(&directory, .bss, "SAME", "HOST1:3")
        #expect(directory.findServer("SAME").map(\.description) == .success("10.16.0.2:3"))
        try put(&directory, .metadata, "SAME", "HOST9:2")
        #expect(directory.findServer("SAME").map(\.description) == .success("16.7.13.1:2"))
        try put(&directory, .gateway, "SAME", "HOST0:1")
        #expect(directory.findServer("SAME").map(\.description) == .success("10.7.6.4:1"))
    }

    @Test func primaryOfFigure2B() throws {
        let directory = try figureDirectory()
        #expect(directory.primary(of: "MDS.1")?.key == "MDS.1.1")
        #expect(directory.primary(of: "MDS.1", in: StandardTable.metadata.id)?.key == "MDS.1.1")
        #expect(
            directory.instances(of: "MDS.1", in: StandardTable.metadata.id).map(\.key) == [
                "MDS.1.0", "MDS.1.1",
            ])
        #expect(directory.primary(of: "MDS.2") == nil)
        #expect(directory.primary(of: "NOPE") == nil)
    }
}
