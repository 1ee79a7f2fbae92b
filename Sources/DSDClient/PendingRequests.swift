/// Client-side redirection of pending requests (FIG. 4C, "Client Query Operations"), as a
/// pure machine.
///
/// A client records each request it sends to a service instance together with the complete
/// route it used. When a change arrives that can affect routes (a server table or
/// `DSD_HOST_ROUTE` changed, pushed through a subscription), the machine re-resolves every
/// pending instance: a request whose route changed is cancelled on the old route and
/// resubmitted to the new one; a request whose instance has no valid route any more is
/// cancelled and held until one appears (or failed, if the instance is gone). The caller
/// supplies resolution, so the machine is tested without an agent.
public struct PendingRequests<RequestID: Hashable & Sendable>: Sendable {
    public enum Resolution: Hashable, Sendable {
        case route(String)
        /// The instance exists but has no valid server or route right now.
        case unreachable
        /// The instance does not exist.
        case gone
    }

    public enum Directive: Hashable, Sendable {
        /// Abandon the request on `route` (it failed or moved).
        case cancel(RequestID, route: String)
        /// Send the request (again) to `route`.
        case submit(RequestID, route: String)
        /// Give up: the instance no longer exists.
        case fail(RequestID, instance: String)
    }

    struct Pending: Hashable, Sendable {
        var instance: String
        /// nil while held: cancelled and waiting for a valid route.
        var route: String?
    }

    private(set) var pending: [RequestID: Pending] = [:]

    public init() {}

    public var count: Int { pending.count }

    /// The route `id` is currently submitted to, nil when held or unknown.
    public func route(of id: RequestID) -> String? { pending[id]?.route }

    /// A new request for `instance`, resolved by the caller just now.
    public mutating func onSubmit(_ id: RequestID, instance: String, resolution: Resolution) -> [Directive] {
        switch resolution {
        case .route(let route):
            pending[id] = Pending(instance: instance, route: route)
            return [.submit(id, route: route)]
        case .unreachable:
            pending[id] = Pending(instance: instance, route: nil)
            return []
        case .gone:
            return [.fail(id, instance: instance)]
        }
    }

    /// The request finished (answered by its server): forget it.
    public mutating func onCompleted(_ id: RequestID) {
        pending[id] = nil
    }

    /// Routes may have changed: re-resolve every pending request's instance (each instance
    /// once) and redirect those whose route is no longer the current one.
    public mutating func onRoutesChanged(resolve: (String) -> Resolution) -> [Directive] {
        var resolved: [String: Resolution] = [:]
        var directives: [Directive] = []
        for (id, request) in pending.sorted(by: { "\($0.key)" < "\($1.key)" }) {
            let now = resolved[request.instance] ?? resolve(request.instance)
            resolved[request.instance] = now
            switch now {
            case .route(let route) where route == request.route:
                continue
            case .route(let route):
                if let old = request.route { directives.append(.cancel(id, route: old)) }
                pending[id]?.route = route
                directives.append(.submit(id, route: route))
            case .unreachable:
                if let old = request.route {
                    directives.append(.cancel(id, route: old))
                    pending[id]?.route = nil
                }
            case .gone:
                if let old = request.route { directives.append(.cancel(id, route: old)) }
                pending[id] = nil
                directives.append(.fail(id, instance: request.instance))
            }
        }
        return directives
    }
}
