/// Building mutations from table names, for requests that arrive with names (the filesystem,
/// the command line, the text format). Each checks what it can up front; `commit` checks again
/// against the state at commit time.
extension Directory {
    /// A put of `entry` into the named table.
    public func mutation(forPut table: String, entry: Entry) throws(DirectoryError) -> Mutation {
        guard let id = translation.id(of: table) else { throw .noSuchTable(table) }
        let mutation = Mutation.put(id, entry)
        try check(mutation)
        return mutation
    }

    /// A delete of `key` from the named table.
    public func mutation(forDelete table: String, key: String) throws(DirectoryError) -> Mutation {
        guard let id = translation.id(of: table) else { throw .noSuchTable(table) }
        let mutation = Mutation.delete(id, key: key)
        try check(mutation)
        return mutation
    }

    /// The creation of a table named `name` with the next dynamic id.
    public func mutation(forCreateTable name: String) throws(DirectoryError) -> Mutation {
        let mutation = Mutation.createTable(translation.nextDynamicID, name: name)
        try check(mutation)
        return mutation
    }

    /// The drop of the named table; standard tables cannot be dropped.
    public func mutation(forDropTable name: String) throws(DirectoryError) -> Mutation {
        guard let id = translation.id(of: name) else { throw .noSuchTable(name) }
        let mutation = Mutation.dropTable(id)
        try check(mutation)
        return mutation
    }

    /// Throws `.tableNotEmpty` unless the table `id` exists and holds no entry: the check of a
    /// drop that must not take entries with it (`rmdir`).
    public func requireEmpty(_ id: TableID) throws(DirectoryError) {
        guard let table = table(id) else { throw .noSuchTableID(id) }
        guard table.count == 0 else { throw .tableNotEmpty(table.name, entries: table.count) }
    }

    /// The mutations that load a parsed text document: first the creation of every table it
    /// names that does not exist, then one put per line. They are meant to be committed in
    /// order; each was checked against the state the previous ones produce.
    public func mutations(loading document: LoadFormat.Document) throws(DirectoryError)
        -> [Mutation]
    {
        var scratch = Directory(
            restoring: version, translation: translation, tables: tables,
            settings: Settings(
                retainedChanges: 0, maxTables: settings.maxTables,
                maxEntriesPerTable: settings.maxEntriesPerTable))
        var result: [Mutation] = []
        for name in document.tablesToCreate(in: self) {
            let create = try scratch.mutation(forCreateTable: name)
            _ = try scratch.commit(create)
            result.append(create)
        }
        for item in document.items {
            let put = try scratch.mutation(forPut: item.table, entry: item.entry)
            _ = try scratch.commit(put)
            result.append(put)
        }
        return result
    }
}
