import DSDCore
import Foundation
import Glibc
import Testing

@testable import DSDFuse

extension MountTests {
    @Suite("inotify and cache invalidation", .serialized)
    struct Inotify {
        static let table = "tables/DSD_MTID_METADATA"

        private func watch(_ fs: MountFixture) throws -> ProcessLines {
            let watcher = try ProcessLines("/usr/bin/inotifywait", ["-m", "--format", "%e %f", fs.path(Self.table)])
            #expect(watcher.waitForStderr("Watches established"))
            return watcher
        }

        @Test func remoteChangesRaiseInotifyEvents() throws {
            try withMount { fs in
                let watcher = try watch(fs)
                defer { watcher.stop() }
                fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.5", value: "HOST5:1872"))
                #expect(watcher.waitForLines(1))
                fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.5", value: "HOST6:1872"))
                fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.5", value: "HOST6:1872", valid: false))
                fs.backend.remoteDelete("DSD_MTID_METADATA", "MDS.5")
                #expect(eventually { watcher.lines.contains("DELETE MDS.5") })
                let lines = watcher.lines
                #expect(lines.first == "CREATE MDS.5")
                #expect(lines.filter { $0 == "MODIFY MDS.5" }.count >= 2)
                #expect(lines.filter { $0 == "CLOSE_WRITE,CLOSE MDS.5" }.count == 3)
                #expect(lines.filter { $0 == "ATTRIB MDS.5" }.count == 1)
                #expect(lines.last == "DELETE MDS.5")
                #expect(fs.backend.value("DSD_MTID_METADATA", "MDS.5") == nil)
            }
        }

        @Test func remoteTableCreationAndDropRaiseEventsOnTables() throws {
            try withMount { fs in
                let watcher = try ProcessLines("/usr/bin/inotifywait", ["-m", "--format", "%e %f", fs.path("tables")])
                defer { watcher.stop() }
                #expect(watcher.waitForStderr("Watches established"))
                fs.backend.remoteCreateTable("DSD_NEW")
                #expect(eventually { watcher.lines.contains("CREATE,ISDIR DSD_NEW") }, "\(watcher.lines)")
                #expect(try fs.run("/bin/ls", [fs.path("tables/DSD_NEW")]).status == 0)
                fs.backend.remoteDropTable("DSD_NEW")
                #expect(eventually { watcher.lines.contains("DELETE,ISDIR DSD_NEW") }, "\(watcher.lines)")
                #expect(try fs.run("/bin/ls", [fs.path("tables/DSD_NEW")]).status != 0)
                #expect(
                    try fs.run("/bin/ls", [fs.path("tables")]).stdout
                        == "DSD_HOST_ROUTE\nDSD_MTID_METADATA\nDSD_MTID_METADATA_PART\n")
            }
        }

        @Test func localWritesAreNotReflectedTwice() throws {
            try withMount { fs in
                let watcher = try watch(fs)
                defer { watcher.stop() }
                #expect(try fs.sh("echo HOST8:1 > \(fs.path(Self.table))/MDS.8").status == 0)
                #expect(try fs.run("/bin/rm", [fs.path(Self.table + "/MDS.8")]).status == 0)
                // A remote change afterwards marks the end of everything the local ones caused.
                fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "END", value: "x"))
                #expect(eventually { watcher.lines.contains("CLOSE_WRITE,CLOSE END") })
                let lines = watcher.lines.filter { $0.hasSuffix(" MDS.8") }
                #expect(lines.filter { $0 == "CREATE MDS.8" }.count == 1, "\(lines)")
                #expect(lines.filter { $0 == "DELETE MDS.8" }.count == 1, "\(lines)")
                #expect(lines.filter { $0.hasPrefix("CLOSE_WRITE") }.count == 1, "\(lines)")
            }
        }

        @Test func aReaderWokenByInotifySeesTheNewValue() throws {
            try withMount { fs in
                let script = """
                    inotifywait -q -e close_write --format %f \(fs.path(Self.table)) >/dev/null && cat \(fs.path(Self.table))/MDS.1
                    """
                _ = fs.read(Self.table + "/MDS.1")  // cache the old value in the kernel
                let reader = try ProcessLines("/bin/bash", ["-c", script])
                defer { reader.stop() }
                usleep(300_000)
                fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.1", value: "NEW:1"))
                #expect(reader.waitForLines(1))
                #expect(reader.lines == ["NEW:1 1"])
            }
        }

        @Test func thousandChangeThenReadTrialsHaveNoStaleRead() throws {
            try withMount { fs in
                var stale = 0
                var racing = 0
                for trial in 0..<1000 {
                    let value = "HOST\(trial):1872"
                    let expected = "\(value) 1\n"
                    #expect(fs.read(Self.table + "/MDS.1") != .success(expected))  // old value cached
                    // The agent applies the change to its replica, then reports it to the mount.
                    fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.1", value: value))
                    if fs.read(Self.table + "/MDS.1") != .success(expected) { racing += 1 }
                    fs.mount.waitUntilIdleForTesting()
                    if fs.read(Self.table + "/MDS.1") != .success(expected) { stale += 1 }
                }
                print(
                    "stale reads after the notifier ran: \(stale)/1000; reads racing the notifier that were old: \(racing)/1000"
                )
                #expect(stale == 0)
            }
        }

        @Test func resetDiffsAgainstWhatTheTreeShowed() throws {
            try withMount { fs in
                let watcher = try watch(fs)
                defer { watcher.stop() }
                var tables = sampleTables
                tables["DSD_MTID_METADATA"] = [
                    Entry(key: "MDS.1", value: "16.7.13.1:1872"), Entry(key: "MDS.3", value: "HOST3:1"),
                ]
                fs.backend.replaceAll(tables)
                #expect(eventually { watcher.lines.contains("CREATE MDS.3") && watcher.lines.contains("DELETE MDS.2") })
                #expect(!watcher.lines.contains { $0.hasSuffix(" MDS.1") })
                #expect(watcher.lines.contains("DELETE MDS.1.0"))
                #expect(try fs.run("/bin/ls", [fs.path(Self.table)]).stdout == "MDS.1\nMDS.3\n")
            }
        }

        @Test func concurrentLocalAndRemoteChangesSettle() throws {
            try withMount { fs in
                let watcher = try watch(fs)
                defer { watcher.stop() }
                let script =
                    (0..<4).map { writer in
                        "(for i in $(seq 1 25); do echo W\(writer):$i > \(fs.path(Self.table))/W\(writer) || exit 1; done) &"
                    }.joined(separator: " ") + " wait"
                let remote = Thread {
                    for index in 0..<100 {
                        fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "R\(index % 7)", value: "r\(index)"))
                    }
                }
                remote.start()
                let result = try fs.sh(script)
                #expect(result.status == 0, "\(result.stderr)")
                #expect(eventually { fs.backend.value("DSD_MTID_METADATA", "R1")?.value == "r99" })
                fs.mount.waitUntilIdleForTesting()
                for writer in 0..<4 {
                    #expect(fs.read(Self.table + "/W\(writer)") == .success("W\(writer):25 1\n"))
                }
                for key in 0..<7 {
                    let value = try #require(fs.backend.value("DSD_MTID_METADATA", "R\(key)"))
                    #expect(fs.read(Self.table + "/R\(key)") == .success("\(value.value) 1\n"))
                }
                #expect(
                    eventually { watcher.lines.filter { $0.hasPrefix("CREATE ") }.count == 11 },
                    "\(watcher.lines.filter { $0.hasPrefix("CREATE ") })")
            }
        }
    }
}
