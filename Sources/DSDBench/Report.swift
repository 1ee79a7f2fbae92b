/// Latency statistics and plain-text tables for the benchmark report.
import DSDCore
import Foundation

/// Percentiles of a set of durations, in nanoseconds.
struct LatencySummary {
    var count: Int
    var p50: UInt64
    var p99: UInt64
    var max: UInt64
    var mean: Double

    /// Nearest-rank percentiles (p99 of 1,000 samples is the 990th smallest).
    init?(nanoseconds samples: [UInt64]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        func rank(_ p: Double) -> UInt64 {
            let index = Int((p * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, index))]
        }
        count = sorted.count
        p50 = rank(0.50)
        p99 = rank(0.99)
        max = sorted[sorted.count - 1]
        mean = Double(sorted.reduce(0, +)) / Double(sorted.count)
    }
}

enum Format {
    /// `0.412 ms`
    static func millis(_ nanoseconds: UInt64) -> String {
        String(format: "%.3f ms", Double(nanoseconds) / 1_000_000)
    }

    static func millis(_ nanoseconds: Double) -> String {
        String(format: "%.3f ms", nanoseconds / 1_000_000)
    }

    /// `12.3 MiB`
    static func mebibytes(kibibytes: Int) -> String {
        String(format: "%.1f MiB", Double(kibibytes) / 1024)
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f s", duration.inSeconds)
    }

    /// Whether a measured value meets its target, as a word next to the numbers.
    static func verdict(_ met: Bool) -> String { met ? "met" : "MISSED" }
}

/// A table of left-aligned text columns.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) { self.headers = headers }

    mutating func add(_ cells: String...) { rows.append(cells) }

    func render(indent: String = "  ") -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = Swift.max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }
            return indent + padded.joined(separator: "  ")
        }
        var lines = [line(headers), indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        lines += rows.map(line)
        return lines.joined(separator: "\n")
    }
}

/// Prints a section title.
func heading(_ title: String) {
    print("\n== \(title) ==")
}

/// Monotonic now in nanoseconds (CLOCK_MONOTONIC, the same clock on every thread).
func monotonicNanoseconds() -> UInt64 {
    DispatchTime.now().uptimeNanoseconds
}
