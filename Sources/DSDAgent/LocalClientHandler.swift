import DSDCore
import DSDWire
import Logging
import NIOCore

/// One local client on the agent's Unix socket: reads answered from the replica, writes
/// forwarded to the directory, watches streamed until the client hangs up.
final class LocalClientHandler: ChannelInboundHandler, WatchSink {
    typealias InboundIn = Message
    typealias OutboundOut = Message

    private let engine: AgentEngine
    private var context: ChannelHandlerContext?
    private var watchID: UInt64?
    /// Events dropped because the client stopped reading; it gets `rescan` once it drains.
    private var overflowed = false
    private var queued = 0

    init(engine: AgentEngine) {
        self.engine = engine
    }

    /// An error is being reported; the connection closes.
    private var failing = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelInactive(context: ChannelHandlerContext) {
        engine.removeWatcher(self)
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Once: an error frame that cannot be encoded either must not come back here.
        guard !failing else { return }
        failing = true
        if let wire = error as? WireError {
            let message = String("\(wire)".prefix(200))
            context.writeAndFlush(wrapOutboundOut(.error(wire.code, message: message)), promise: nil)
        }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .clientRequest(let id, let request) = unwrapInboundIn(data) else {
            context.writeAndFlush(
                wrapOutboundOut(.error(.malformed, message: "expected a client request")), promise: nil)
            context.close(promise: nil)
            return
        }
        handle(id: id, request)
    }

    private func reply(_ id: UInt64, _ reply: ClientReply) {
        context?.writeAndFlush(wrapOutboundOut(.clientReply(id: id, reply)), promise: nil)
    }

    private func fail(_ id: UInt64, _ error: any Error) {
        if let error = error as? AgentError {
            reply(id, .failed(error.code, message: error.description))
        } else if let error = error as? DirectoryError {
            let names = engine.replica.read { $0.translation }
            if case .inBatch(let index, _) = error {
                reply(id, .failedInBatch(index: index, ErrorCode(error), message: error.description(naming: names)))
            } else {
                reply(id, .failed(ErrorCode(error), message: error.description(naming: names)))
            }
        } else {
            // Only AgentError and DirectoryError reach here; the loop's own failure means it stopped.
            reply(id, .failed(.unavailable, message: AgentError.unavailable(.shuttingDown).description))
        }
    }

    private func answer(_ id: UInt64, _ future: EventLoopFuture<Version>) {
        let bound = NIOLoopBound(self, eventLoop: engine.loop)
        future.whenComplete { result in
            switch result {
            case .success(let version): bound.value.reply(id, .ok(version))
            case .failure(let error): bound.value.fail(id, error)
            }
        }
    }

    /// Whether the request is answered from the replica alone.
    private static func readsReplica(_ request: ClientRequest) -> Bool {
        switch request {
        case .get, .list, .find, .part, .watch, .dump: true
        case .status, .put, .delete, .createTable, .dropTable, .dropEmptyTable, .heartbeat, .batch: false
        }
    }

    private func handle(id: UInt64, _ request: ClientRequest) {
        let replica = engine.replica
        // A replica that never synced is empty: it would answer "not found" to everything.
        if Self.readsReplica(request), !replica.seeded { return fail(id, AgentError.notSynced) }
        switch request {
        case .get(let table, let key):
            let found = replica.read { d in d.table(named: table).map { $0[key] } }
            switch found {
            case .none: fail(id, AgentError.noSuchTable(table))
            case .some(.none): fail(id, AgentError.notFound(table: table, key: key))
            case .some(.some(let entry)): reply(id, .entries([entry], more: false))
            }
        case .list(let table, let prefix):
            guard let entries = replica.read({ $0.table(named: table)?.search(prefix: prefix) }) else {
                return fail(id, AgentError.noSuchTable(table))
            }
            sendChunks(id, entries) { .entries($0, more: $1) }
        case .find(let name):
            switch replica.read({ $0.findServer(name) }) {
            case .success(let route): reply(id, .route(route.description))
            case .failure(let error): fail(id, AgentError.resolve(error))
            }
        case .part(let table, let number):
            let result = replica.read { d -> Result<CompleteRoute, AgentError> in
                guard let tid = d.translation.id(of: table) else { return .failure(.noSuchTable(table)) }
                return d.partition(table: tid, number: number).mapError { .partition(table: table, $0) }
            }
            switch result {
            case .success(let route): reply(id, .route(route.description))
            case .failure(let error): fail(id, error)
            }
        case .watch(let table, let prefix):
            guard replica.read({ $0.table(named: table) != nil }) else {
                return fail(id, AgentError.noSuchTable(table))
            }
            watchID = id
            engine.addWatcher(self, table: table, prefix: prefix)
            reply(id, .ok(nil))
        case .status:
            reply(id, .status(engine.status()))
        case .dump:
            let directory = replica.directory
            var chunks: [(String, [Entry])] = []
            for name in directory.tableNames {
                for chunk in WireLimits.frameChunks(directory.table(named: name)?.allEntries ?? []) {
                    chunks.append((name, chunk))
                }
            }
            if chunks.isEmpty { return reply(id, .ok(nil)) }
            for (index, chunk) in chunks.enumerated() {
                context?.write(
                    wrapOutboundOut(
                        .clientReply(id: id, .tableEntries(table: chunk.0, chunk.1, more: index < chunks.count - 1))),
                    promise: nil)
            }
            context?.flush()
        case .put(let table, let entry):
            answer(id, engine.submit(table: table) { .put($0, entry) })
        case .delete(let table, let key):
            answer(id, engine.submit(table: table) { .delete($0, key: key) })
        case .createTable(let name):
            answer(id, engine.submit(.createTable(name: name)))
        case .dropTable(let name):
            answer(id, engine.submit(table: name) { .dropTable($0) })
        case .dropEmptyTable(let name):
            answer(id, engine.submit(table: name) { .dropEmptyTable($0) })
        case .batch(let writes):
            answer(id, engine.submit(batch: writes))
        case .heartbeat(let table, let key, let millis):
            let bound = NIOLoopBound(self, eventLoop: engine.loop)
            engine.heartbeat(table: table, key: key, timeMax: millis.map { .milliseconds($0) }).whenComplete { result in
                switch result {
                case .success(let version): bound.value.reply(id, .ok(version))
                case .failure(let error): bound.value.fail(id, error)
                }
            }
        }
    }

    private func sendChunks(_ id: UInt64, _ entries: [Entry], _ make: ([Entry], Bool) -> ClientReply) {
        let chunks = WireLimits.frameChunks(entries)
        for (index, chunk) in chunks.enumerated() {
            context?.write(wrapOutboundOut(.clientReply(id: id, make(chunk, index < chunks.count - 1))), promise: nil)
        }
        context?.flush()
    }

    // MARK: Watch

    func deliver(_ events: [WatchEvent]) {
        guard let context, let id = watchID else { return }
        if overflowed || queued + events.count > engine.settings.watchQueueLimit && !context.channel.isWritable {
            overflowed = true
            return
        }
        for event in events {
            context.write(wrapOutboundOut(.clientReply(id: id, .event(event))), promise: nil)
        }
        queued = context.channel.isWritable ? 0 : queued + events.count
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            queued = 0
            if overflowed, let id = watchID {
                overflowed = false
                context.writeAndFlush(wrapOutboundOut(.clientReply(id: id, .event(.rescan))), promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }
}
