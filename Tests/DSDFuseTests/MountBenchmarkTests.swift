import DSDCore
import Foundation
import Glibc
import Testing

@testable import DSDFuse

extension MountTests {
    /// Prints (does not assert) the cost of open + read + close of an entry against a tmpfs file
    /// of the same size; the numbers go into Docs/filesystem.md.
    @Suite("measurements", .serialized)
    struct Measurements {
        static func openReadClose(_ path: String, iterations: Int) -> Duration {
            var buffer = [UInt8](repeating: 0, count: 256)
            let clock = ContinuousClock()
            return clock.measure {
                for _ in 0..<iterations {
                    let fd = open(path, O_RDONLY)
                    _ = read(fd, &buffer, buffer.count)
                    close(fd)
                }
            }
        }

        @Test func entryReadVersusTmpfs() throws {
            try withMount { fs in
                let entry = fs.path("tables/DSD_MTID_METADATA/MDS.1")
                let content = try #require(try? fs.read("tables/DSD_MTID_METADATA/MDS.1").get())
                let shm = "/dev/shm/dsd-fuse-bench-\(getpid())"
                #expect(FileManager.default.createFile(atPath: shm, contents: Data(content.utf8)))
                defer { unlink(shm) }
                let iterations = 20_000
                _ = Self.openReadClose(entry, iterations: 1_000)
                _ = Self.openReadClose(shm, iterations: 1_000)
                let fuse = Self.openReadClose(entry, iterations: iterations)
                let tmpfs = Self.openReadClose(shm, iterations: iterations)
                func micros(_ duration: Duration) -> Double {
                    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
                }
                let perFuse = micros(fuse) / Double(iterations)
                let perTmpfs = micros(tmpfs) / Double(iterations)
                print(
                    "open+read+close of a \(content.utf8.count)-byte entry: \(String(format: "%.2f", perFuse)) µs; tmpfs: \(String(format: "%.2f", perTmpfs)) µs"
                )
                let runs = 200
                let catFuse = try ContinuousClock().measure { for _ in 0..<runs { try fs.run("/bin/cat", [entry]) } }
                let catTmpfs = try ContinuousClock().measure { for _ in 0..<runs { try fs.run("/bin/cat", [shm]) } }
                print(
                    "whole cat process: entry \(String(format: "%.0f", micros(catFuse) / Double(runs))) µs; tmpfs: \(String(format: "%.0f", micros(catTmpfs) / Double(runs))) µs"
                )
                #expect(fs.read("tables/DSD_MTID_METADATA/MDS.1") == .success(content))
            }
        }

        @Test func reflectedChangeCost() throws {
            try withMount { fs in
                let changes = 500
                let elapsed = ContinuousClock().measure {
                    for index in 0..<changes {
                        fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.1", value: "H\(index):1"))
                    }
                    fs.mount.waitUntilIdleForTesting()
                }
                let created = ContinuousClock().measure {
                    for index in 0..<changes {
                        fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "NEW.\(index)", value: "v"))
                    }
                    fs.mount.waitUntilIdleForTesting()
                }
                let micros = { (d: Duration) in
                    (Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12) / Double(changes)
                }
                print(
                    "reflected change, notifier time per change: modify \(String(format: "%.0f", micros(elapsed))) µs; create \(String(format: "%.0f", micros(created))) µs"
                )
                #expect(fs.read("tables/DSD_MTID_METADATA/NEW.\(changes - 1)") == .success("v 1\n"))
            }
        }
    }
}
