/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every log record.
///
/// Table-driven slicing-by-8: eight 256-entry tables let the loop fold eight input bytes per
/// iteration with eight independent lookups instead of eight dependent ones.
public enum CRC32C {
    /// The reflected Castagnoli polynomial.
    static let polynomial: UInt32 = 0x82F6_3B78

    /// `tables[k * 256 + b]`: the CRC contribution of byte `b` followed by `k` zero bytes.
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ polynomial : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            var c = t[i]
            for k in 1..<8 {
                c = t[Int(c & 0xFF)] ^ (c >> 8)
                t[k * 256 + i] = c
            }
        }
        return t
    }()

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: some Collection<UInt8>) -> UInt32 {
        update(0, bytes)
    }

    /// `bytes` followed by their checksum (u32 little endian): the trailer of the small
    /// checksummed files (`leases`, a server's etcd cache).
    public static func appendingChecksum(_ bytes: [UInt8]) -> [UInt8] {
        bytes + withUnsafeBytes(of: checksum(bytes).littleEndian, Array.init)
    }

    /// What precedes the checksum trailer of `bytes`, if the trailer matches; nil when it does
    /// not, or when `bytes` are too short to hold one.
    public static func verifiedBody(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
        guard bytes.count >= 4 else { return nil }
        let body = bytes.dropLast(4)
        let stored = bytes.suffix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
        return checksum(body) == stored ? body : nil
    }

    /// Continues a checksum: `update(checksum(a), b) == checksum(a + b)`.
    public static func update(_ crc: UInt32, _ bytes: some Collection<UInt8>) -> UInt32 {
        if let result = bytes.withContiguousStorageIfAvailable({
            update(crc, UnsafeRawBufferPointer($0))
        }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { update(crc, $0) }
    }

    /// Continues a checksum over raw memory.
    public static func update(_ crc: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        guard var p = buffer.baseAddress, buffer.count > 0 else { return crc }
        var n = buffer.count
        var c = ~crc
        tables.withUnsafeBufferPointer { t in
            while n >= 8 {
                let lo = p.loadUnaligned(as: UInt32.self).littleEndian ^ c
                let hi = (p + 4).loadUnaligned(as: UInt32.self).littleEndian
                c =
                    t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                p += 8
                n -= 8
            }
            while n > 0 {
                c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                p += 1
                n -= 1
            }
        }
        return ~c
    }
}
