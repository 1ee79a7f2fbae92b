import DSDTestSupport
import DSDWire
import Foundation
import NIOCore

/// A plain blocking TCP connection to the directory, for speaking (or abusing) the protocol
/// byte by byte. Sends and receives have deadlines so a test can never block forever.
final class RawConnection {
    let fd: Int32
    private var inbound = ByteBuffer()
    /// Opened plaintext not yet decoded, once the session is sealed.
    private var opened = ByteBuffer()
    /// The session's ciphers, from the handshake.
    private var outbound: RecordCipher?
    private var inboundCipher: RecordCipher?
    private(set) var isOpen = true

    init(port: Int, timeout: Duration = .seconds(2)) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw HarnessError("connect to 127.0.0.1:\(port): \(reason)")
        }
        self.fd = fd
    }

    deinit { shut() }

    func shut() {
        guard isOpen else { return }
        isOpen = false
        close(fd)
    }

    /// Writes all of `bytes` as they are; false once the peer has closed (or the send
    /// deadline passed).
    @discardableResult
    func sendClear(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    /// Sends `message` as one frame: sealed once authenticated, like a real peer.
    func send(_ message: Message) throws -> Bool {
        send(try frame(message))
    }

    /// Sends `bytes` as they are before authentication, sealed in records after it.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        sendClear(outbound == nil ? bytes : seal(bytes))
    }

    /// One frame's bytes.
    func frame(_ message: Message) throws -> [UInt8] {
        var buffer = ByteBuffer()
        try buffer.writeFrame(message)
        return Array(buffer.readableBytesView)
    }

    /// `bytes` as sealed records under the session's outbound cipher, which then counts them
    /// as sent: for a test that tampers with records before writing them (`sendClear`).
    func seal(_ bytes: [UInt8]) -> [UInt8] {
        guard var cipher = outbound else { preconditionFailure("seal before authentication") }
        var records = ByteBuffer()
        var plaintext = ByteBuffer(bytes: bytes)
        repeat {
            let slice = plaintext.readSlice(length: min(plaintext.readableBytes, WireLimits.maxRecordBytes))!
            cipher.seal(slice.readableBytesView, into: &records)
        } while plaintext.readableBytes > 0
        outbound = cipher
        return Array(records.readableBytesView)
    }

    /// Reads until one frame is decoded (opening sealed records once authenticated). nil on
    /// end of stream or timeout; throws on bytes that do not decode or open.
    func receive() throws -> Message? {
        while true {
            if var cipher = inboundCipher {
                while try cipher.open(&inbound, into: &opened) {}
                inboundCipher = cipher
                if let message = try opened.readFrame() {
                    opened.discardReadBytes()
                    return message
                }
            } else if let message = try inbound.readFrame() {
                inbound.discardReadBytes()
                return message
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            inbound.writeBytes(chunk[0..<n])
        }
    }

    /// True if the peer closed the connection within `limit` (end of stream or reset),
    /// discarding whatever it sent before.
    func closedByPeer(within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        var chunk = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 50)
            if ready <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 { return true }
            if n < 0 && errno != EAGAIN && errno != EINTR { return true }
        }
        return false
    }

    /// Runs the handshake as an agent with `key`; true once authenticated.
    func authenticate(key: ClusterKey, name: String) throws -> Bool {
        var handshake = Handshake(side: .initiator, role: .agent, name: name, key: key)
        var actions = handshake.onStart()
        while true {
            for action in actions {
                switch action {
                case .send(let message):
                    guard try send(message) else { return false }
                case .sealOutbound(let keys):
                    outbound = RecordCipher(key: keys.outbound)
                case .openInbound(let keys):
                    inboundCipher = RecordCipher(key: keys.inbound)
                case .authenticated:
                    return true
                case .fail:
                    return false
                }
            }
            guard let message = try receive() else { return false }
            actions = handshake.onMessage(message)
        }
    }
}
