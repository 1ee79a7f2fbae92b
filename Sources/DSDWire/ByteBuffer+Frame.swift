import NIOCore

/// Framing: `[body length: varint][type: UInt8][body]`. The length counts the body only.
extension ByteBuffer {
    /// Reads one whole frame. Returns `nil`, leaving the reader index where it was, when the
    /// buffer does not yet hold the whole frame. Throws as soon as the header shows the frame
    /// can never be valid (too large, unknown type), without waiting for its body.
    public mutating func readFrame(maxBytes: Int = WireLimits.maxFrameBytes) throws(WireError) -> Message? {
        guard let (length, headerBytes) = try peekVarintLength(limit: maxBytes) else { return nil }
        guard let rawType = getInteger(at: readerIndex + headerBytes, as: UInt8.self) else {
            return nil
        }
        guard let type = MessageType(rawValue: rawType) else { throw .unknownType(rawType) }
        guard readableBytes >= headerBytes + 1 + length else { return nil }
        moveReaderIndex(forwardBy: headerBytes + 1)
        var body = readSlice(length: length)!
        let message = try body.readMessageBody(type)
        guard body.readableBytes == 0 else { throw .trailingBytes(body.readableBytes) }
        return message
    }

    /// A length prefix (a frame's or a sealed record's): the declared length and the size of
    /// its varint, or `nil` if incomplete. Throws `.frameTooLarge` over `limit` (at most
    /// `WireLimits.maxFrameLengthBytes` bytes of varint) and on an overlong encoding.
    func peekVarintLength(limit maxBytes: Int) throws(WireError) -> (Int, Int)? {
        var length = 0
        for index in 0..<WireLimits.maxFrameLengthBytes {
            guard let byte = getInteger(at: readerIndex + index, as: UInt8.self) else { return nil }
            length |= Int(byte & 0x7F) << (7 * index)
            if byte & 0x80 == 0 {
                if byte == 0 && index > 0 { throw .malformed("frame length: overlong varint") }
                guard length <= maxBytes else { throw .frameTooLarge(length) }
                return (length, index + 1)
            }
        }
        throw .frameTooLarge(length)
    }

    /// Appends `message` as one frame and returns the number of bytes written. On error
    /// (a field over its limit, a body over `WireLimits.maxFrameBytes`) nothing is written.
    @discardableResult
    public mutating func writeFrame(_ message: Message) throws(WireError) -> Int {
        let start = writerIndex
        // Reserve the largest length prefix, write type and body, then close the gap.
        let reserved = WireLimits.maxFrameLengthBytes
        writeRepeatingByte(0, count: reserved)
        writeInteger(message.type.rawValue)
        do throws(WireError) {
            try writeMessageBody(message)
        } catch {
            moveWriterIndex(to: start)
            throw error
        }
        let length = writerIndex - start - reserved - 1
        guard length <= WireLimits.maxFrameBytes else {
            moveWriterIndex(to: start)
            throw .frameTooLarge(length)
        }
        let prefix = Self.varintSize(UInt64(length))
        if prefix < reserved {
            do {
                _ = try copyBytes(at: start + reserved, to: start + prefix, length: 1 + length)
            } catch {
                preconditionFailure("both ranges lie within the bytes just written: \(error)")
            }
            moveWriterIndex(to: start + prefix + 1 + length)
        }
        var header = ByteBuffer()
        header.writeVarint(UInt64(length))
        setBuffer(header, at: start)
        return writerIndex - start
    }
}
