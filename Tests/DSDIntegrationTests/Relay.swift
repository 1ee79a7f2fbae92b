import DSDTestSupport
import Foundation

/// A TCP relay on loopback between agents and the directory, standing in for whoever is on
/// the path: it records every byte in both directions and, when armed, flips one bit of the
/// next chunk an agent sends. Threads with blocking, polled sockets; `stop()` ends them.
final class Relay: @unchecked Sendable {
    // Safe: every mutable field is read and written under `lock`.
    private let lock = NSLock()
    private var recorded: [UInt8] = []
    /// Flip a bit of the next agent chunk of at least this many bytes.
    private var flipArmed: Int?
    private var flipped = 0
    private var connections = 0
    private var stopped = false
    private let listener: Int32
    let port: Int
    private let upstreamPort: Int

    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        port = try freeLoopbackPort()
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw HarnessError("relay cannot listen on 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit { stop() }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    /// Every byte relayed so far, both directions.
    var bytes: [UInt8] { lock.withLock { recorded } }
    /// Connections accepted so far.
    var accepted: Int { lock.withLock { connections } }
    /// Chunks altered so far.
    var flips: Int { lock.withLock { flipped } }

    /// Flips one bit in the middle of the next chunk of at least `minBytes` an agent sends
    /// (so a keep-alive ping is not the one altered).
    func armFlip(minBytes: Int) { lock.withLock { flipArmed = minBytes } }

    private var isStopped: Bool { lock.withLock { stopped } }

    private static func loopback(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while !isStopped {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = Self.loopback(upstreamPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(client)
                close(upstream)
                continue
            }
            lock.withLock { connections += 1 }
            Thread.detachNewThread { [self] in pump(client, upstream) }
        }
    }

    /// Copies both ways until either side closes, then closes both.
    private func pump(_ client: Int32, _ upstream: Int32) {
        defer {
            close(client)
            close(upstream)
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        var fds = [client, upstream].map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        while !isStopped {
            guard poll(&fds, 2, 50) >= 0 || errno == EINTR else { return }
            for index in 0..<2 where fds[index].revents != 0 {
                let n = chunk.withUnsafeMutableBytes { recv(fds[index].fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { return }
                var data = Array(chunk[0..<n])
                let fromAgent = index == 0
                lock.withLock {
                    recorded += data
                    if fromAgent, let minBytes = flipArmed, data.count >= minBytes {
                        flipArmed = nil
                        flipped += 1
                        data[data.count / 2] ^= 0x04
                    }
                }
                let target = fromAgent ? upstream : client
                var offset = 0
                while offset < data.count {
                    let sent = data[offset...].withUnsafeBytes {
                        send(target, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                    }
                    guard sent > 0 else { return }
                    offset += sent
                }
            }
        }
    }
}
