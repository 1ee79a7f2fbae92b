/// Why a frame could not be decoded or encoded.
public enum WireError: Error, Hashable, Sendable {
    /// The frame's declared body length exceeds `WireLimits.maxFrameBytes`.
    case frameTooLarge(Int)
    /// The opcode is not in `MessageType`.
    case unknownType(UInt8)
    /// The body does not follow the message's layout; the string names the field.
    case malformed(String)
    /// The body is longer than its message's fields.
    case trailingBytes(Int)
    /// A sealed record did not open: altered, replayed, reordered or under another key.
    case unsealFailed

    /// The code to report to the peer before closing.
    public var code: ErrorCode { .malformed }
}

extension WireError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .frameTooLarge(let bytes): "a frame of \(bytes) bytes exceeds the limit of \(WireLimits.maxFrameBytes)"
        case .unknownType(let type): "a frame has the unknown message type \(type)"
        case .malformed(let field): "a frame is malformed (\(field))"
        case .trailingBytes(let count): "a frame has \(count) bytes after its last field"
        case .unsealFailed: "a sealed record did not open (altered, replayed, reordered or under another key)"
        }
    }
}
