import DSDCore
import DSDPosix
import Glibc

/// The progress line of a long load on a terminal (standard error), redrawn at most four
/// times a second: entries so far, entries/s, and with a file of known size how much of it
/// is read and the time left. Nothing is shown on a pipe.
struct LoadProgress {
    let totalBytes: Int?
    let shown: Bool
    private let started = ContinuousClock.now
    private var lastDrawn: ContinuousClock.Instant?
    private var drawn = false

    init(totalBytes: Int?, shown: Bool) {
        self.totalBytes = totalBytes
        self.shown = shown
    }

    var elapsed: Duration { ContinuousClock.now - started }

    var elapsedText: String { Self.seconds(elapsed) }

    func rateText(_ entries: Int) -> String {
        "\(Self.perSecond(entries, elapsed)) entries/s"
    }

    mutating func update(entries: Int, bytes: Int) {
        guard shown else { return }
        let now = ContinuousClock.now
        if let lastDrawn, now - lastDrawn < .milliseconds(250) { return }
        lastDrawn = now
        drawn = true
        _ = Streams.write(
            "\r\u{1B}[K" + Self.line(entries: entries, bytes: bytes, of: totalBytes, after: elapsed), to: STDERR_FILENO)
    }

    /// Removes the line, so what follows starts on a clean line.
    func clear() {
        guard drawn else { return }
        _ = Streams.write("\r\u{1B}[K", to: STDERR_FILENO)
    }

    /// `loading: 120000 entries, 85000 entries/s, 45% of 12.3 MB, 2 s left`.
    static func line(entries: Int, bytes: Int, of total: Int?, after elapsed: Duration) -> String {
        var text = "loading: \(entries) entries, \(perSecond(entries, elapsed)) entries/s"
        if let total, total > 0 {
            let fraction = min(1, Double(bytes) / Double(total))
            text += ", \(Int(fraction * 100))% of \(megabytes(total))"
            let seconds = elapsed.inSeconds
            if fraction > 0.01 {
                text += ", \(Int((seconds / fraction - seconds).rounded(.up))) s left"
            }
        }
        return text
    }

    static func perSecond(_ count: Int, _ elapsed: Duration) -> Int {
        let seconds = elapsed.inSeconds
        return seconds > 0 ? Int(Double(count) / seconds) : 0
    }

    static func seconds(_ duration: Duration) -> String {
        let milliseconds = duration.wholeMilliseconds
        return "\(milliseconds / 1000).\(String(milliseconds % 1000 / 10).leftPadded(2)) s"
    }

    static func megabytes(_ bytes: Int) -> String {
        let tenths = bytes * 10 / 1_000_000
        return "\(tenths / 10).\(tenths % 10) MB"
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
