import Glibc

/// The lines of a file descriptor, read in chunks: memory stays bounded by the chunk and the
/// longest line, whatever the size of the input. A last line without a newline is a line.
public struct LineReader {
    private let fd: Int32
    private let chunkBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false
    /// Bytes read from the descriptor so far.
    public private(set) var bytesRead = 0

    public init(fd: Int32, chunkBytes: Int = 256 << 10) {
        self.fd = fd
        self.chunkBytes = chunkBytes
    }

    /// The next line without its `\n` (a `\r` before it is kept), or nil at end of input.
    public mutating func next() throws(PosixError) -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                defer { start = newline + 1 }
                return buffer[start..<newline]
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                defer { start = buffer.count }
                return buffer[start...]
            }
            try fill()
        }
    }

    private mutating func fill() throws(PosixError) {
        buffer.removeSubrange(0..<start)
        start = 0
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunkBytes))
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + old, chunkBytes) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                buffer.removeSubrange(old...)
                throw PosixError(operation: "read", errno: errno)
            }
            buffer.removeSubrange((old + n)...)
            bytesRead += n
            if n == 0 { atEnd = true }
            return
        }
    }
}
