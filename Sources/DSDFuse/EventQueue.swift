import DSDCore

/// The lines of an `events` stream.
enum EventLine {
    static func add(_ entry: Entry) -> [UInt8] {
        Array("ADD \(entry.key) \(entry.value) \(entry.valid ? 1 : 0)\n".utf8)
    }

    static func delete(_ key: String) -> [UInt8] { Array("DEL \(key)\n".utf8) }

    static let rescan: [UInt8] = Array("RESCAN\n".utf8)
}

/// The bounded queue of one subscription. When a reader falls behind by more than `bound`
/// lines, everything queued is dropped and a single `RESCAN` line tells it to re-read the
/// table; later changes queue after it.
struct EventQueue {
    let bound: Int
    private(set) var lines: [[UInt8]] = []
    private var head = 0
    private(set) var overflows = 0

    init(bound: Int) { self.bound = max(bound, 1) }

    var isEmpty: Bool { head == lines.count }
    var count: Int { lines.count - head }

    mutating func push(_ line: [UInt8]) {
        if count >= bound { return replaceWithRescan() }
        lines.append(line)
    }

    /// Everything queued gives way to one `RESCAN`.
    mutating func replaceWithRescan() {
        lines = [EventLine.rescan]
        head = 0
        overflows += 1
    }

    /// Whole lines totalling at most `maxBytes` (at least one line, cut if it alone is longer).
    mutating func take(maxBytes: Int) -> [UInt8] {
        var out: [UInt8] = []
        while head < lines.count {
            let line = lines[head]
            if out.isEmpty, line.count > maxBytes {
                out = Array(line.prefix(maxBytes))
                lines[head] = Array(line.dropFirst(maxBytes))
                break
            }
            if out.count + line.count > maxBytes { break }
            out += line
            head += 1
        }
        if head == lines.count {
            lines.removeAll(keepingCapacity: lines.count < 64)
            head = 0
        } else if head > 1024 {
            lines.removeFirst(head)
            head = 0
        }
        return out
    }
}
