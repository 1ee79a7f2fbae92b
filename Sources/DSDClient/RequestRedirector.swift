import DSDCore
import DSDPosix
import DSDWire
import FoundationEssentials
import Glibc
import Synchronization

/// Keeps a server process's or gateway's pending requests on live routes (FIG. 4C).
///
/// It subscribes (through the local agent) to the server tables and `DSD_HOST_ROUTE`; on
/// every change it re-resolves the instances of pending requests (`PendingRequests`) and
/// calls `cancel` for requests whose server or route failed and `send` with the new route —
/// before any protocol timeout would have noticed. Each watch runs on its own thread with its
/// own agent connection; `send` and `cancel` are called on those threads or the caller's, one
/// at a time.
public final class RequestRedirector<RequestID: Hashable & Sendable>: Sendable {
    public typealias Send = @Sendable (RequestID, String) -> Void
    public typealias Cancel = @Sendable (RequestID, String) -> Void
    public typealias Fail = @Sendable (RequestID, String) -> Void

    /// Tables whose changes can move a route.
    public static var watchedTables: [String] {
        StandardTable.serverTables.map(\.name) + [StandardTable.hostRoute.name]
    }

    private let socketPath: String
    private let state: Mutex<PendingRequests<RequestID>>
    /// Serialises resolution and the callbacks, so directives are carried out in order.
    private let resolver: Mutex<AgentClient>
    private let send: Send
    private let cancel: Cancel
    private let fail: Fail
    private let stopped = Atomic<Bool>(false)

    /// Connects to the agent and starts watching. `send` delivers a request to a complete
    /// route (`16.7.13.1:1872`); `cancel` abandons it on a failed route; `fail` reports a
    /// request whose instance disappeared.
    public init(
        socketPath: String = AgentClient.defaultSocketPath, send: @escaping Send, cancel: @escaping Cancel,
        fail: @escaping Fail = { _, _ in }
    ) throws(ClientError) {
        self.socketPath = socketPath
        self.resolver = Mutex(try AgentClient(socketPath: socketPath))
        self.state = Mutex(PendingRequests())
        self.send = send
        self.cancel = cancel
        self.fail = fail
        for table in Self.watchedTables {
            // Each watch gets its own connection, created on its thread; the initialiser
            // returns once every watch is acknowledged, so no change after it is missed.
            let ready = PosixSemaphore()
            let outcome = Mutex<ClientError?>(nil)
            let started = PosixThread.detach { [weak self] in
                var acknowledged = false
                do throws(ClientError) {
                    let watcher = try AgentClient(socketPath: socketPath, timeout: .seconds(5))
                    try watcher.watch(
                        table: table, prefix: "",
                        onAcknowledged: {
                            acknowledged = true
                            ready.signal()
                        }
                    ) { _ in
                        guard let self, !self.stopped.load(ordering: .relaxed) else { return false }
                        self.routesChanged()
                        return true
                    }
                } catch {
                    outcome.withLock { $0 = error }
                }
                if !acknowledged { ready.signal() }
            }
            guard started else { throw ClientError.agentUnreachable(path: socketPath, .noThread) }
            ready.wait()
            if let error = outcome.withLock({ $0 }) { throw error }
        }
    }

    /// Stops redirecting (the watch threads end at their next event).
    public func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    /// Sends a new request to `instance`'s current route (or holds it until one is valid).
    public func submit(_ id: RequestID, to instance: String) {
        resolver.withLock { client in
            let resolution = Self.resolve(instance, client)
            let directives = state.withLock { $0.onSubmit(id, instance: instance, resolution: resolution) }
            perform(directives)
        }
    }

    /// The request was answered: stop tracking it.
    public func completed(_ id: RequestID) {
        state.withLock { $0.onCompleted(id) }
    }

    /// The route `id` is submitted to now, nil when held.
    public func route(of id: RequestID) -> String? {
        state.withLock { $0.route(of: id) }
    }

    public var pendingCount: Int { state.withLock { $0.count } }

    private func routesChanged() {
        resolver.withLock { client in
            let directives = state.withLock { $0.onRoutesChanged { Self.resolve($0, client) } }
            perform(directives)
        }
    }

    private func perform(_ directives: [PendingRequests<RequestID>.Directive]) {
        for directive in directives {
            switch directive {
            case .cancel(let id, let route): cancel(id, route)
            case .submit(let id, let route): send(id, route)
            case .fail(let id, let instance): fail(id, instance)
            }
        }
    }

    private static func resolve(_ instance: String, _ client: AgentClient) -> PendingRequests<RequestID>.Resolution {
        do {
            return .route(try client.find(instance))
        } catch {
            if case .failed(let code, _) = error, code == .notFound { return .gone }
            return .unreachable
        }
    }
}
