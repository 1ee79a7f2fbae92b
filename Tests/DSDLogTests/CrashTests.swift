import DSDTestSupport
import Foundation
import Testing

@testable import DSDLog

/// Kills `dsd-wal-tool append-loop` with SIGKILL at random instants and checks that every
/// acknowledged record survives, in order, with nothing beyond the one record in flight.
@Suite(.serialized) struct CrashTests {
    static let segmentBytes = 8192

    /// The tool is built next to the test bundle: the products directory.
    static func toolPath() -> String? {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        else {
            return nil
        }
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // On platforms where the tests run from a bundle, climb out of it.
        while dir.path.contains(".xctest") { dir = dir.deletingLastPathComponent() }
        let tool = dir.appendingPathComponent("dsd-wal-tool").path
        return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil
    }

    /// Recovered sequence numbers, checking each payload against its LSN.
    func recovered(_ dir: TempDirectory) throws -> [UInt64] {
        var settings = LogSettings.testing
        settings.segmentBytes = Self.segmentBytes
        let (state, writer) = try openLog(dir, settings: settings)
        writer.close()
        return state.records.map { record in
            let sequence = record.payload.prefix(8).enumerated().reduce(UInt64(0)) {
                $0 | UInt64($1.element) << (8 * UInt64($1.offset))
            }
            #expect(sequence == record.lsn, "payload and lsn agree")
            return sequence
        }
    }

    @Test func acknowledgedAppendsSurviveSIGKILL() throws {
        guard let tool = Self.toolPath() else {
            Issue.record("dsd-wal-tool not found next to the test binary; build all products first")
            return
        }
        let dir = TempDirectory()
        defer { dir.remove() }
        var rng = SplitMix64(seed: 0x5EED)
        var durable: UInt64 = 0
        var acknowledgedTotal = 0
        let started = ContinuousClock.now
        for run in 0..<50 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = [
                "append-loop", dir.log, "--segment-bytes", "\(Self.segmentBytes)", "--payload-bytes", "64",
            ]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let reader = out.fileHandleForReading
            var output = Data()
            // Most runs wait for the first acknowledgement so the kill lands amid appends;
            // every fifth run is killed blind, possibly during open and recovery.
            if run % 5 != 4 {
                while !output.contains(UInt8(ascii: "\n")) {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    output.append(chunk)
                }
            }
            let delay = UInt32.random(in: 1_000...60_000, using: &rng)
            usleep(delay)
            kill(process.processIdentifier, SIGKILL)
            output.append(reader.readDataToEndOfFile())
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "run \(run): the tool died by itself")

            let lines = String(decoding: output, as: UTF8.self).split(
                separator: "\n", omittingEmptySubsequences: true)
            let acknowledged = lines.compactMap { UInt64($0) }
            #expect(
                acknowledged == Array((durable + 1)..<(durable + 1 + UInt64(acknowledged.count))),
                "run \(run): acknowledgements continue the recovered sequence")
            acknowledgedTotal += acknowledged.count
            let lastAcknowledged = acknowledged.last ?? durable

            let sequences = try recovered(dir)
            let count = UInt64(sequences.count)
            #expect(sequences == Array(1..<(count + 1)), "run \(run): contiguous from 1")
            #expect(
                count >= lastAcknowledged,
                "run \(run): acknowledged \(lastAcknowledged), recovered \(count)")
            #expect(count <= lastAcknowledged + 1, "run \(run): at most one unacknowledged record")
            durable = count
        }
        #expect(acknowledgedTotal > 50, "the kills must land after appends started")
        #expect(ContinuousClock.now - started < .seconds(60))
    }
}
