/// Find server (FIG. 2D, 5B): service or server instance → server route `HOST9:1872` → current
/// route of `HOST9` → complete route `16.7.13.1:1872`.
extension Directory {
    /// The current route of `host` (FIG. 2D): among the valid `DSD_HOST_ROUTE` entries keyed
    /// `<host>.<digits>`, the one with the lowest number (`HOST9.2` before `HOST9.10`). A key
    /// matches only when it is the host name, a dot and digits, so `HOST1.0` is not a route of
    /// `HOST10` and `HOST10.0` is not a route of `HOST1`.
    public func currentRoute(host: String) -> Result<String, FindError> {
        let prefix = host + "."
        var best: Entry?
        for entry in search(table: StandardTable.hostRoute.id, prefix: prefix) where entry.valid {
            guard let split = KeyOrder.lastComponent(of: entry.key),
                split.parent.utf8.elementsEqual(host.utf8), KeyOrder.isNumber(split.last)
            else { continue }
            if let current = best, !KeyOrder.siblingPrecedes(entry.key, current.key) { continue }
            best = entry
        }
        guard let best else { return .failure(.noValidRoute(host: host)) }
        return .success(best.value)
    }

    /// Completes a server route: its host replaced by the host's current route.
    public func completeRoute(_ serverRoute: String) -> Result<CompleteRoute, FindError> {
        guard let route = ServerRoute(parsing: serverRoute) else {
            return .failure(.malformedRoute(serverRoute))
        }
        return currentRoute(host: route.host).map {
            CompleteRoute(address: $0, identity: route.identity)
        }
    }

    /// Find server for `name` — a service instance (`MDS.1`, whose value is its primary's
    /// route), a server instance (`MDS.1.1`) or any other key of a server table. The server
    /// tables are searched in the order gateway, metadata, bss; the first holding the exact
    /// key answers.
    public func findServer(_ name: String) -> Result<CompleteRoute, FindError> {
        for table in StandardTable.serverTables {
            if let entry = entry(table: table.id, key: name) {
                return complete(entry)
            }
        }
        return .failure(.noSuchInstance(name))
    }

    /// Find server for `name` in one table.
    public func findServer(_ name: String, in table: TableID) -> Result<CompleteRoute, FindError> {
        guard let contents = tables[table] else { return .failure(.noSuchTable(table)) }
        guard let entry = contents[name] else { return .failure(.noSuchInstance(name)) }
        return complete(entry)
    }

    private func complete(_ entry: Entry) -> Result<CompleteRoute, FindError> {
        guard entry.valid else { return .failure(.noValidServer(entry.key)) }
        return completeRoute(entry.value)
    }

    /// The server instances of service instance `service` in `table`: the entries keyed
    /// `<service>.<component>` (one more dot component), in sibling order (numeric last
    /// components numerically).
    public func instances(of service: String, in table: TableID) -> [Entry] {
        search(table: table, prefix: service + ".")
            .filter { entry in
                guard let split = KeyOrder.lastComponent(of: entry.key) else { return false }
                return split.parent.utf8.elementsEqual(service.utf8) && !split.last.isEmpty
            }
            .sorted { KeyOrder.siblingPrecedes($0.key, $1.key) }
    }

    /// The primary of service instance `service` (FIG. 2B): the first of its server instances
    /// whose value is the service's value. Nil when the service does not exist or no instance
    /// holds its route.
    public func primary(of service: String, in table: TableID) -> Entry? {
        guard let serviceEntry = entry(table: table, key: service) else { return nil }
        return instances(of: service, in: table).first { $0.value == serviceEntry.value }
    }

    /// The primary of `service`, looked up in the first server table holding `service`.
    public func primary(of service: String) -> Entry? {
        for table in StandardTable.serverTables where entry(table: table.id, key: service) != nil {
            return primary(of: service, in: table.id)
        }
        return nil
    }
}
