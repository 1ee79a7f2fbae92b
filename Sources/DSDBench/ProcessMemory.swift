import Foundation

/// Memory of a running process, from `/proc/PID/status` and `/proc/PID/smaps`.
struct ProcessMemory {
    /// Resident set (KiB), split as the kernel accounts it.
    var rss = 0
    var rssAnon = 0
    var rssFile = 0
    /// Proportional set size: shared pages (libraries mapped by several dsd processes) divided
    /// among the processes sharing them.
    var pss = 0
    var threads = 0
    /// Resident KiB per mapping kind: file-backed mappings by library name, `[heap]`,
    /// anonymous mappings (malloc arenas, thread stacks, Swift/NIO allocations), `[stack]`.
    var byMapping: [(name: String, kibibytes: Int)] = []

    init?(pid: Int32) {
        guard let status = readProcFile("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let number = Int(parts[1].split(whereSeparator: \.isWhitespace).first ?? "") ?? 0
            switch parts[0] {
            case "VmRSS": rss = number
            case "RssAnon": rssAnon = number
            case "RssFile": rssFile = number
            case "Threads": threads = number
            default: break
            }
        }
        byMapping = Self.mappings(pid: pid)
        for line in (readProcFile("/proc/\(pid)/smaps_rollup") ?? "").split(separator: "\n")
        where line.hasPrefix("Pss:") {
            pss = Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0
        }
    }

    private static func mappings(pid: Int32) -> [(name: String, kibibytes: Int)] {
        guard let smaps = readProcFile("/proc/\(pid)/smaps") else { return [] }
        var totals: [String: Int] = [:]
        var current = "[anon]"
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
            if let first = line.first, first.isHexDigit, line.contains("-") {
                let fields = line.split(whereSeparator: \.isWhitespace)
                if fields.count >= 6 {
                    let path = fields[5...].joined(separator: " ")
                    current = path.hasPrefix("/") ? (path as NSString).lastPathComponent : path
                } else {
                    current = "[anon]"
                }
            } else if line.hasPrefix("Rss:") {
                let value = Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0
                totals[current, default: 0] += value
            }
        }
        return totals.map { (name: $0.key, kibibytes: $0.value) }.sorted { $0.kibibytes > $1.kibibytes }
    }

    /// The largest mappings, `name size` pairs, for a one-line breakdown.
    func topMappings(_ count: Int) -> String {
        byMapping.prefix(count).map { "\($0.name) \(Format.mebibytes(kibibytes: $0.kibibytes))" }.joined(
            separator: ", ")
    }
}

/// The whole contents of a /proc file. Their size reads as 0, so read until end of file.
func readProcFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { return count == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
        bytes += chunk[0..<count]
    }
}
