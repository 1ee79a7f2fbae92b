import FoundationEssentials
import Glibc

extension Date {
    /// `2026-11-28T23:17:04Z`, formatted with `gmtime_r` (Foundation's ISO 8601 formatter
    /// loads ICU, which costs an agent about 3 MiB of resident memory).
    var utcTimestamp: String {
        var seconds = time_t(timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
