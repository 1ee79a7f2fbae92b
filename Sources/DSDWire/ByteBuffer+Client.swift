import DSDCore
import NIOCore

/// Bodies of the local client messages. Each enum case has a one-byte tag; tags are
/// append-only like opcodes.
extension ByteBuffer {
    mutating func writeClientRequest(_ request: ClientRequest) throws(WireError) {
        switch request {
        case .get(let table, let key):
            writeInteger(UInt8(0))
            try writeTableName(table)
            try writeKey(key)
        case .list(let table, let prefix):
            writeInteger(UInt8(1))
            try writeTableName(table)
            try writeKey(prefix)
        case .find(let name):
            writeInteger(UInt8(2))
            try writeKey(name)
        case .part(let table, let number):
            writeInteger(UInt8(3))
            try writeTableName(table)
            writeVarint(number)
        case .watch(let table, let prefix):
            writeInteger(UInt8(4))
            try writeTableName(table)
            try writeKey(prefix)
        case .status:
            writeInteger(UInt8(5))
        case .dump:
            writeInteger(UInt8(6))
        case .put(let table, let entry):
            writeInteger(UInt8(7))
            try writeTableName(table)
            try writeEntry(entry)
        case .delete(let table, let key):
            writeInteger(UInt8(8))
            try writeTableName(table)
            try writeKey(key)
        case .createTable(let name):
            writeInteger(UInt8(9))
            try writeTableName(name)
        case .dropTable(let name):
            writeInteger(UInt8(10))
            try writeTableName(name)
        case .heartbeat(let table, let key, let timeMax):
            writeInteger(UInt8(11))
            try writeTableName(table)
            try writeKey(key)
            writeOptionalVarint(timeMax)
        case .dropEmptyTable(let name):
            writeInteger(UInt8(12))
            try writeTableName(name)
        case .batch(let writes):
            writeInteger(UInt8(13))
            guard writes.count <= Limits.maxBatchOperations else {
                throw .malformed("batch: \(writes.count) operations exceed \(Limits.maxBatchOperations)")
            }
            writeVarint(UInt64(writes.count))
            for write in writes {
                switch write {
                case .put(let table, let entry):
                    writeInteger(UInt8(0))
                    try writeTableName(table)
                    try writeEntry(entry)
                case .delete(let table, let key):
                    writeInteger(UInt8(1))
                    try writeTableName(table)
                    try writeKey(key)
                }
            }
        }
    }

    private mutating func readBatchWrites() throws(WireError) -> [BatchWrite] {
        let count = try readVarint("batch count")
        guard count <= UInt64(Limits.maxBatchOperations) else {
            throw .malformed("batch: \(count) operations exceed \(Limits.maxBatchOperations)")
        }
        var writes: [BatchWrite] = []
        writes.reserveCapacity(Int(count))
        for _ in 0..<count {
            switch try readByte("batch operation") {
            case 0:
                let table = try readTableName()
                writes.append(.put(table: table, try readEntry()))
            case 1:
                let table = try readTableName()
                writes.append(.delete(table: table, key: try readKey()))
            case let other:
                throw .malformed("batch operation: unknown \(other)")
            }
        }
        return writes
    }

    mutating func readClientRequest() throws(WireError) -> ClientRequest {
        switch try readByte("request") {
        case 0:
            let table = try readTableName()
            return .get(table: table, key: try readKey())
        case 1:
            let table = try readTableName()
            return .list(table: table, prefix: try readKey())
        case 2:
            return .find(name: try readKey())
        case 3:
            let table = try readTableName()
            return .part(table: table, number: try readVarint("number"))
        case 4:
            let table = try readTableName()
            return .watch(table: table, prefix: try readKey())
        case 5:
            return .status
        case 6:
            return .dump
        case 7:
            let table = try readTableName()
            return .put(table: table, try readEntry())
        case 8:
            let table = try readTableName()
            return .delete(table: table, key: try readKey())
        case 9:
            return .createTable(name: try readTableName())
        case 10:
            return .dropTable(name: try readTableName())
        case 11:
            let table = try readTableName()
            let key = try readKey()
            return .heartbeat(table: table, key: key, timeMaxMillis: try readOptionalVarint("timeMax"))
        case 12:
            return .dropEmptyTable(name: try readTableName())
        case 13:
            return .batch(try readBatchWrites())
        case let other:
            throw .malformed("request: unknown \(other)")
        }
    }

    mutating func writeClientReply(_ reply: ClientReply) throws(WireError) {
        switch reply {
        case .ok(let version):
            writeInteger(UInt8(0))
            writeOptionalVersion(version)
        case .entries(let entries, let more):
            writeInteger(UInt8(1))
            try writeEntries(entries)
            writeBool(more)
        case .tableEntries(let table, let entries, let more):
            writeInteger(UInt8(2))
            try writeTableName(table)
            try writeEntries(entries)
            writeBool(more)
        case .route(let route):
            writeInteger(UInt8(3))
            try writeWireString(route, max: WireLimits.maxRouteBytes, "route")
        case .status(let fields):
            writeInteger(UInt8(4))
            guard fields.count <= WireLimits.maxStatusFields else {
                throw .malformed("status: \(fields.count) fields exceeds \(WireLimits.maxStatusFields)")
            }
            writeVarint(UInt64(fields.count))
            for field in fields {
                try writeWireString(field.name, max: WireLimits.maxStatusFieldBytes, "status.name")
                try writeWireString(field.value, max: WireLimits.maxStatusFieldBytes, "status.value")
            }
        case .event(let event):
            writeInteger(UInt8(5))
            switch event {
            case .add(let entry):
                writeInteger(UInt8(0))
                try writeEntry(entry)
            case .delete(let key):
                writeInteger(UInt8(1))
                try writeKey(key)
            case .rescan:
                writeInteger(UInt8(2))
            }
        case .failed(let code, let text):
            writeInteger(UInt8(6))
            writeErrorCode(code)
            writeTruncatedString(text, max: WireLimits.maxMessageBytes)
        case .failedInBatch(let index, let code, let text):
            writeInteger(UInt8(7))
            writeVarint(UInt64(index))
            writeErrorCode(code)
            writeTruncatedString(text, max: WireLimits.maxMessageBytes)
        }
    }

    mutating func readClientReply() throws(WireError) -> ClientReply {
        switch try readByte("reply") {
        case 0:
            return .ok(try readOptionalVersion("version"))
        case 1:
            let entries = try readEntries()
            return .entries(entries, more: try readBool("more"))
        case 2:
            let table = try readTableName()
            let entries = try readEntries()
            return .tableEntries(table: table, entries, more: try readBool("more"))
        case 3:
            return .route(try readWireString(max: WireLimits.maxRouteBytes, "route"))
        case 4:
            let count = try readBoundedVarint("status", max: UInt64(WireLimits.maxStatusFields))
            var fields: [StatusField] = []
            for _ in 0..<count {
                let name = try readWireString(max: WireLimits.maxStatusFieldBytes, "status.name")
                let value = try readWireString(max: WireLimits.maxStatusFieldBytes, "status.value")
                fields.append(StatusField(name: name, value: value))
            }
            return .status(fields)
        case 5:
            switch try readByte("event") {
            case 0: return .event(.add(try readEntry()))
            case 1: return .event(.delete(key: try readKey()))
            case 2: return .event(.rescan)
            case let other: throw .malformed("event: unknown \(other)")
            }
        case 6:
            let code = try readErrorCode()
            return .failed(code, message: try readWireString(max: WireLimits.maxMessageBytes, "message"))
        case 7:
            let index = try readBoundedVarint("index", max: UInt64(Limits.maxBatchOperations))
            let code = try readErrorCode()
            return .failedInBatch(
                index: Int(index), code, message: try readWireString(max: WireLimits.maxMessageBytes, "message"))
        case let other:
            throw .malformed("reply: unknown \(other)")
        }
    }
}
