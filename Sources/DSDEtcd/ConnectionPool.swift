import NIOCore
import Synchronization

/// Idle keep-alive connections to the members, by member index: a unary call takes one
/// instead of connecting (a connect, an accept in etcd and a close per call cost more than
/// the request on loopback). A connection a member closed while idle is dropped when taken.
final class ConnectionPool: Sendable {
    /// Idle connections kept per member: as many as calls usually run at once.
    let limit: Int
    private let idle = Mutex<[Int: [any Channel]]>([:])
    /// Connections opened for unary calls so far.
    let openedCount = Atomic<Int>(0)

    init(limit: Int = 8) {
        self.limit = limit
    }

    deinit {
        closeAll()
    }

    /// An open idle connection to member `member`, if there is one.
    func take(_ member: Int) -> (any Channel)? {
        idle.withLock { idle in
            while let channel = idle[member]?.popLast() {
                if channel.isActive { return channel }
            }
            return nil
        }
    }

    /// Keeps `channel` for the next call to `member` (closes it when enough are kept).
    func give(_ channel: any Channel, member: Int) {
        let kept = idle.withLock { idle in
            guard idle[member, default: []].count < limit else { return false }
            idle[member, default: []].append(channel)
            return true
        }
        if !kept { channel.close(promise: nil) }
    }

    func opened() {
        openedCount.add(1, ordering: .relaxed)
    }

    func closeAll() {
        let all = idle.withLock { idle in
            defer { idle = [:] }
            return idle.values.flatMap { $0 }
        }
        for channel in all { channel.close(promise: nil) }
    }
}
