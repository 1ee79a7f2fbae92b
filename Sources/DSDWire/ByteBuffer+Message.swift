import DSDCore
import NIOCore

/// Message bodies. The layouts are drawn in `Docs/wire-protocol.md`; the write and read of
/// each message sit side by side so they can be compared at a glance.
extension ByteBuffer {
    mutating func writeMessageBody(_ message: Message) throws(WireError) {
        switch message {
        case .hello(let hello):
            writeInteger(hello.protocolVersion)
            writeInteger(hello.role.rawValue)
            writeBytes32(hello.nonce)
            try writeWireString(hello.name, max: WireLimits.maxHostNameBytes, "name")
        case .authProof(let mac):
            writeBytes32(mac)
        case .authOK:
            break
        case .error(let code, let text):
            writeErrorCode(code)
            writeTruncatedString(text, max: WireLimits.maxMessageBytes)
        case .sync(let from):
            writeOptionalVersion(from)
        case .change(let change):
            writeVersion(change.version)
            try writeMutation(change.mutation)
        case .snapshotBegin(let version, let tableCount):
            guard tableCount <= WireLimits.maxTables else {
                throw .malformed("tableCount: \(tableCount) exceeds \(WireLimits.maxTables)")
            }
            writeVersion(version)
            writeVarint(UInt64(tableCount))
        case .snapshotTable(let chunk):
            writeTableID(chunk.id)
            try writeTableName(chunk.name)
            try writeEntries(chunk.entries)
        case .snapshotEnd(let version):
            writeVersion(version)
        case .ping(let value), .pong(let value):
            writeVarint(value)
        case .announce(let announce):
            guard announce.routes.count <= WireLimits.maxRoutes else {
                throw .malformed("routes: \(announce.routes.count) exceeds \(WireLimits.maxRoutes)")
            }
            writeVarint(announce.bootID)
            writeInteger(announce.probePort)
            writeVarint(UInt64(announce.routes.count))
            for route in announce.routes {
                writeVarint(UInt64(route.index))
                try writeWireString(route.address, max: WireLimits.maxAddressBytes, "address")
            }
        case .lease(let table, let key, let millis):
            writeTableID(table)
            try writeKey(key)
            writeVarint(millis)
        case .unlease(let table, let key):
            writeTableID(table)
            try writeKey(key)
        case .request(let id, let request):
            writeVarint(id)
            try writeDirectoryRequest(request)
        case .response(let id, let result):
            writeVarint(id)
            switch result {
            case .ok(let version):
                writeInteger(UInt8(0))
                writeVersion(version)
            case .failed(let code, let text):
                writeInteger(UInt8(1))
                writeErrorCode(code)
                writeTruncatedString(text, max: WireLimits.maxMessageBytes)
            }
        case .clientRequest(let id, let request):
            writeVarint(id)
            try writeClientRequest(request)
        case .clientReply(let id, let reply):
            writeVarint(id)
            try writeClientReply(reply)
        }
    }

    mutating func readMessageBody(_ type: MessageType) throws(WireError) -> Message {
        switch type {
        case .hello:
            guard let version = readInteger(as: UInt16.self) else { throw .malformed("protocolVersion: truncated") }
            let rawRole = try readByte("role")
            guard let role = Role(rawValue: rawRole) else { throw .malformed("role: unknown \(rawRole)") }
            let nonce = try readBytes32("nonce")
            let name = try readWireString(max: WireLimits.maxHostNameBytes, "name")
            return .hello(Hello(protocolVersion: version, role: role, nonce: nonce, name: name))
        case .authProof:
            return .authProof(mac: try readBytes32("mac"))
        case .authOK:
            return .authOK
        case .error:
            let code = try readErrorCode()
            return .error(code, message: try readWireString(max: WireLimits.maxMessageBytes, "message"))
        case .sync:
            return .sync(from: try readOptionalVersion("from"))
        case .change:
            let version = try readVersion("version")
            return .change(Change(version: version, mutation: try readMutation()))
        case .snapshotBegin:
            let version = try readVersion("version")
            let count = try readBoundedVarint("tableCount", max: UInt64(WireLimits.maxTables))
            return .snapshotBegin(version: version, tableCount: UInt32(count))
        case .snapshotTable:
            let id = try readTableID("table")
            let name = try readTableName()
            return .snapshotTable(SnapshotChunk(id: id, name: name, entries: try readEntries()))
        case .snapshotEnd:
            return .snapshotEnd(version: try readVersion("version"))
        case .ping:
            return .ping(try readVarint("ping"))
        case .pong:
            return .pong(try readVarint("pong"))
        case .announce:
            let bootID = try readVarint("bootID")
            guard let port = readInteger(as: UInt16.self) else { throw .malformed("probePort: truncated") }
            let count = try readBoundedVarint("routes", max: UInt64(WireLimits.maxRoutes))
            var routes: [RouteAnnouncement] = []
            for _ in 0..<count {
                let index = try readBoundedVarint("route index", max: UInt64(UInt32.max))
                let address = try readWireString(max: WireLimits.maxAddressBytes, "address")
                routes.append(RouteAnnouncement(index: UInt32(index), address: address))
            }
            return .announce(Announce(bootID: bootID, probePort: port, routes: routes))
        case .lease:
            let table = try readTableID("table")
            let key = try readKey()
            return .lease(table: table, key: key, timeMaxMillis: try readVarint("timeMaxMillis"))
        case .unlease:
            let table = try readTableID("table")
            return .unlease(table: table, key: try readKey())
        case .request:
            let id = try readVarint("id")
            return .request(id: id, try readDirectoryRequest())
        case .response:
            let id = try readVarint("id")
            switch try readByte("result") {
            case 0:
                return .response(id: id, .ok(try readVersion("version")))
            case 1:
                let code = try readErrorCode()
                let text = try readWireString(max: WireLimits.maxMessageBytes, "message")
                return .response(id: id, .failed(code, message: text))
            case let other:
                throw .malformed("result: unknown \(other)")
            }
        case .clientRequest:
            let id = try readVarint("id")
            return .clientRequest(id: id, try readClientRequest())
        case .clientReply:
            let id = try readVarint("id")
            return .clientReply(id: id, try readClientReply())
        }
    }

    // MARK: Mutation (the pushed change: the hot path, so validity folds into the tag)

    private enum MutationTag: UInt8 {
        case putValid = 0
        case putInvalid = 1
        case delete = 2
        case createTable = 3
        case dropTable = 4
        /// A count, then that many put or delete mutations.
        case batch = 5
    }

    mutating func writeMutation(_ mutation: Mutation) throws(WireError) {
        switch mutation {
        case .put(let table, let entry):
            writeInteger((entry.valid ? MutationTag.putValid : .putInvalid).rawValue)
            writeTableID(table)
            try writeKey(entry.key)
            try writeWireString(entry.value, max: Limits.maxValueBytes, "value")
        case .delete(let table, let key):
            writeInteger(MutationTag.delete.rawValue)
            writeTableID(table)
            try writeKey(key)
        case .createTable(let table, let name):
            writeInteger(MutationTag.createTable.rawValue)
            writeTableID(table)
            try writeTableName(name)
        case .dropTable(let table):
            writeInteger(MutationTag.dropTable.rawValue)
            writeTableID(table)
        case .batch(let operations):
            writeInteger(MutationTag.batch.rawValue)
            try writeBatch(operations)
        }
    }

    /// A batch's operations: a count, then each as a mutation (puts and deletes only).
    mutating func writeBatch(_ operations: [Mutation]) throws(WireError) {
        guard operations.count <= Limits.maxBatchOperations else {
            throw .malformed("batch: \(operations.count) operations exceed \(Limits.maxBatchOperations)")
        }
        writeVarint(UInt64(operations.count))
        for operation in operations {
            switch operation {
            case .put, .delete: try writeMutation(operation)
            case .createTable, .dropTable, .batch: throw .malformed("batch: only puts and deletes")
            }
        }
    }

    mutating func readBatch() throws(WireError) -> [Mutation] {
        let count = try readVarint("batch count")
        guard count <= UInt64(Limits.maxBatchOperations) else {
            throw .malformed("batch: \(count) operations exceed \(Limits.maxBatchOperations)")
        }
        var operations: [Mutation] = []
        operations.reserveCapacity(Int(count))
        for _ in 0..<count {
            let operation = try readMutation()
            switch operation {
            case .put, .delete: operations.append(operation)
            case .createTable, .dropTable, .batch: throw .malformed("batch: only puts and deletes")
            }
        }
        return operations
    }

    mutating func readMutation() throws(WireError) -> Mutation {
        let raw = try readByte("mutation")
        guard let tag = MutationTag(rawValue: raw) else { throw .malformed("mutation: unknown \(raw)") }
        if tag == .batch { return .batch(try readBatch()) }
        let table = try readTableID("table")
        switch tag {
        case .putValid, .putInvalid:
            let key = try readKey()
            let value = try readWireString(max: Limits.maxValueBytes, "value")
            return .put(table, Entry(key: key, value: value, valid: tag == .putValid))
        case .delete:
            return .delete(table, key: try readKey())
        case .createTable:
            return .createTable(table, name: try readTableName())
        case .dropTable:
            return .dropTable(table)
        case .batch:
            throw .malformed("mutation: unexpected batch")
        }
    }

    // MARK: Directory requests

    mutating func writeDirectoryRequest(_ request: DirectoryRequest) throws(WireError) {
        switch request {
        case .put(let table, let entry):
            writeInteger(UInt8(0))
            writeTableID(table)
            try writeEntry(entry)
        case .delete(let table, let key):
            writeInteger(UInt8(1))
            writeTableID(table)
            try writeKey(key)
        case .createTable(let name):
            writeInteger(UInt8(2))
            try writeTableName(name)
        case .dropTable(let table):
            writeInteger(UInt8(3))
            writeTableID(table)
        case .dropEmptyTable(let table):
            writeInteger(UInt8(4))
            writeTableID(table)
        case .batch(let operations):
            writeInteger(UInt8(5))
            try writeBatch(operations)
        }
    }

    mutating func readDirectoryRequest() throws(WireError) -> DirectoryRequest {
        switch try readByte("operation") {
        case 0:
            let table = try readTableID("table")
            return .put(table, try readEntry())
        case 1:
            let table = try readTableID("table")
            return .delete(table, key: try readKey())
        case 2:
            return .createTable(name: try readTableName())
        case 3:
            return .dropTable(try readTableID("table"))
        case 4:
            return .dropEmptyTable(try readTableID("table"))
        case 5:
            return .batch(try readBatch())
        case let other:
            throw .malformed("operation: unknown \(other)")
        }
    }
}
