import DSDCore
import Foundation
import Glibc
import Testing

@testable import DSDFuse

/// Every test that mounts lives in this suite, so that no two mounts run at once.
@Suite("Mount", .serialized) enum MountTests {}

extension MountTests {
    @Suite("reads, writes, names", .serialized)
    struct Basics {
        @Test func readsEntriesAndListsTables() throws {
            try withMount { fs in
                let cat = try fs.run("/bin/cat", [fs.path("tables/DSD_MTID_METADATA/MDS.1")])
                #expect(cat.status == 0)
                #expect(cat.stdout == "16.7.13.1:1872 1\n")
                #expect(
                    try fs.run("/bin/cat", [fs.path("tables/DSD_MTID_METADATA/MDS.2")]).stdout == "10.7.6.4:1872 0\n")
                let ls = try fs.run("/bin/ls", [fs.path("tables")])
                #expect(ls.stdout == "DSD_HOST_ROUTE\nDSD_MTID_METADATA\nDSD_MTID_METADATA_PART\n")
                #expect(
                    try fs.run("/bin/ls", [fs.path("tables/DSD_MTID_METADATA")]).stdout == "MDS.1\nMDS.1.0\nMDS.2\n")
                #expect(try fs.run("/bin/ls", [fs.path("")]).stdout == "events\nfind\npart\nstatus\ntables\n")
                let missing = try fs.run("/bin/cat", [fs.path("tables/DSD_MTID_METADATA/NOPE")])
                #expect(missing.status != 0)
                #expect(missing.stderr.contains("No such file"))
                #expect(try fs.run("/bin/cat", [fs.path("status")]).stdout.hasPrefix("state: test"))
            }
        }
    }
}

extension MountTests.Basics {
    static let table = "tables/DSD_MTID_METADATA"

    @Test func listsDotEntriesAndATableLargerThanOneReaddirBuffer() throws {
        try withMount { fs in
            // 3,000 names of ~20 bytes: many 4 KiB READDIR replies, each resumed at an offset.
            fs.backend.replaceAll([
                "BIG": (0..<3000).map { Entry(key: "K.\(1_000_000 + $0).padding", value: "HOST\($0):1") }
            ])
            let ls = try fs.run("/bin/ls", ["-a", fs.path("tables/BIG")])
            let names = ls.stdout.split(separator: "\n").map(String.init)
            #expect(names.count == 3002)
            #expect(names.prefix(2) == [".", ".."])
            #expect(Array(names.dropFirst(2)) == (0..<3000).map { "K.\(1_000_000 + $0).padding" })
            // ".." of a table is tables/, "." the table itself.
            let inodes = try fs.sh(
                "stat -c %i \(fs.path("tables")) \(fs.path("tables/BIG")) \(fs.path("tables/BIG/."))"
                    + " \(fs.path("tables/BIG/.."))"
            ).stdout.split(separator: "\n")
            #expect(inodes.count == 4)
            if inodes.count == 4 {
                #expect(inodes[2] == inodes[1])
                #expect(inodes[3] == inodes[0])
            }
        }
    }

    @Test func writeAddsAndModifiesOnlyAfterCommit() throws {
        try withMount { fs in
            let add = try fs.sh("echo HOST6:1920 > \(fs.path(Self.table))/MDS.6")
            #expect(add.status == 0, "\(add.stderr)")
            #expect(fs.backend.value("DSD_MTID_METADATA", "MDS.6") == Entry(key: "MDS.6", value: "HOST6:1920"))
            #expect(try fs.run("/bin/cat", [fs.path(Self.table + "/MDS.6")]).stdout == "HOST6:1920 1\n")

            #expect(try fs.sh("printf 'HOST7:1 0' > \(fs.path(Self.table))/MDS.6").status == 0)
            #expect(
                fs.backend.value("DSD_MTID_METADATA", "MDS.6") == Entry(key: "MDS.6", value: "HOST7:1", valid: false))
            #expect(try fs.run("/bin/cat", [fs.path(Self.table + "/MDS.6")]).stdout == "HOST7:1 0\n")

            // A trailing newline is optional; `<value> <valid>` round-trips what cat printed.
            #expect(
                try fs.sh(
                    "cat \(fs.path(Self.table))/MDS.6 > /tmp/dsd-line && cat /tmp/dsd-line > \(fs.path(Self.table))/MDS.1"
                ).status == 0)
            #expect(fs.backend.value("DSD_MTID_METADATA", "MDS.1")?.value == "HOST7:1")
        }
    }

    @Test(arguments: [
        "printf 'a b c' >", "printf 'v 2' >", "/usr/bin/printf 'two\\nlines' >", "printf '\\377\\376' >",
        "head -c 2000 /dev/zero | tr '\\0' x >",
    ])
    func malformedWritesFailWithEINVALAndChangeNothing(_ command: String) throws {
        try withMount { fs in
            let result = try fs.sh("\(command) \(fs.path(Self.table))/MDS.1")
            #expect(result.status != 0)
            #expect(result.stderr.contains("Invalid argument"), "\(result.stderr)")
            #expect(fs.backend.value("DSD_MTID_METADATA", "MDS.1")?.value == "16.7.13.1:1872")
        }
    }

    @Test(arguments: [(BackendError.unavailable("link down"), "Input/output error"), (.timedOut, "timed out")])
    func backendFailuresReachTheWriter(_ failure: BackendError, _ message: String) throws {
        try withMount { fs in
            fs.backend.store.withLock { $0.failNextPut = failure }
            let result = try fs.sh("echo X:1 > \(fs.path(Self.table))/MDS.1")
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(fs.backend.value("DSD_MTID_METADATA", "MDS.1")?.value == "16.7.13.1:1872")
            #expect(try fs.run("/bin/cat", [fs.path(Self.table + "/MDS.1")]).stdout == "16.7.13.1:1872 1\n")
        }
    }

    @Test func unlinkMkdirRmdirRename() throws {
        try withMount { fs in
            #expect(try fs.run("/bin/rm", [fs.path(Self.table + "/MDS.2")]).status == 0)
            #expect(fs.backend.value("DSD_MTID_METADATA", "MDS.2") == nil)
            #expect(fs.read(Self.table + "/MDS.2") == .failure(Errno(ENOENT)))
            #expect(try fs.run("/bin/rm", [fs.path(Self.table + "/MDS.2")]).status != 0)

            #expect(try fs.run("/bin/mkdir", [fs.path("tables/NEW_TABLE")]).status == 0)
            #expect(fs.backend.tableExists("NEW_TABLE"))
            #expect(try fs.sh("echo v > \(fs.path("tables/NEW_TABLE/k"))").status == 0)
            let notEmpty = try fs.run("/bin/rmdir", [fs.path("tables/NEW_TABLE")])
            #expect(notEmpty.status != 0 && notEmpty.stderr.contains("not empty"))
            #expect(try fs.run("/bin/rm", [fs.path("tables/NEW_TABLE/k")]).status == 0)
            #expect(try fs.run("/bin/rmdir", [fs.path("tables/NEW_TABLE")]).status == 0)
            #expect(!fs.backend.tableExists("NEW_TABLE"))
            #expect(try fs.run("/bin/ls", [fs.path("tables/NEW_TABLE")]).status != 0)

            let mv = try fs.run("/bin/mv", [fs.path(Self.table + "/MDS.1"), fs.path(Self.table + "/MDS.9")])
            #expect(mv.status != 0 && mv.stderr.contains("not permitted"), "\(mv.stderr)")
            #expect(fs.backend.value("DSD_MTID_METADATA", "MDS.1") != nil)
            #expect(try fs.run("/bin/mkdir", [fs.path("find/x")]).status != 0)
        }
    }

    @Test func badNamesAreRefused() throws {
        try withMount { fs in
            let space = try fs.sh("echo v > '\(fs.path(Self.table))/a b'")
            #expect(space.status != 0 && space.stderr.contains("Invalid argument"), "\(space.stderr)")
            let long = String(repeating: "k", count: 256)
            let tooLong = try fs.sh("echo v > \(fs.path(Self.table))/\(long)")
            #expect(tooLong.status != 0 && tooLong.stderr.contains("too long"), "\(tooLong.stderr)")
            let noTable = try fs.sh("echo v > \(fs.path("tables/NO_SUCH"))/k")
            #expect(noTable.status != 0)
            let badTable = try fs.run("/bin/mkdir", [fs.path("tables/bad\ttable")])
            #expect(badTable.status != 0 && badTable.stderr.contains("Invalid argument"), "\(badTable.stderr)")
            #expect(fs.backend.entries(table: "DSD_MTID_METADATA")?.count == 3)
        }
    }

    @Test func touchIsAHeartbeat() throws {
        try withMount { fs in
            #expect(try fs.run("/usr/bin/touch", [fs.path(Self.table + "/MDS.2")]).status == 0)
            let plain = fs.backend.store.withLock { $0.heartbeats }
            #expect(plain.count == 1 && plain[0].1 == "MDS.2" && plain[0].2 == nil)
            #expect(fs.backend.value("DSD_MTID_METADATA", "MDS.2")?.valid == true)
            #expect(eventually { fs.read(Self.table + "/MDS.2") == .success("10.7.6.4:1872 1\n") })

            let before = ContinuousClock.now
            #expect(try fs.run("/usr/bin/touch", ["-d", "+3 sec", fs.path(Self.table + "/MDS.1")]).status == 0)
            let after = ContinuousClock.now
            let timed = fs.backend.store.withLock { $0.heartbeats }
            #expect(timed.count == 2)
            let deadline = try #require(timed[1].2)
            // touch -d resolves "+3 sec" to whole seconds of wall time: allow that rounding.
            #expect(deadline > before.advanced(by: .seconds(1.9)))
            #expect(deadline < after.advanced(by: .seconds(3.1)))

            let past = try fs.run("/usr/bin/touch", ["-d", "-1 hour", fs.path(Self.table + "/MDS.1")])
            #expect(past.status == 0)
            #expect(fs.backend.store.withLock { $0.heartbeats.last?.2 } == .some(nil))
            #expect(try fs.run("/usr/bin/touch", [fs.path(Self.table + "/NOPE")]).status != 0)
            #expect(fs.backend.value("DSD_MTID_METADATA", "NOPE") == nil)
        }
    }

    @Test func findAndPartResolveThroughTheBackend() throws {
        try withMount { fs in
            #expect(try fs.run("/bin/cat", [fs.path("find/MDS.1")]).stdout == "16.7.13.1:1872\n")
            let unknown = try fs.run("/bin/cat", [fs.path("find/MDS.7")])
            #expect(unknown.status != 0 && unknown.stderr.contains("No such file"))
            let down = try fs.run("/bin/cat", [fs.path("find/MDS.2")])
            #expect(down.status != 0 && down.stderr.contains("No route to host"), "\(down.stderr)")
            #expect(try fs.run("/bin/cat", [fs.path("part/DSD_MTID_METADATA_PART/6")]).stdout == "16.7.13.1:1872\n")
            #expect(try fs.run("/bin/cat", [fs.path("part/DSD_MTID_METADATA_PART/7")]).status != 0)
            #expect(try fs.run("/bin/cat", [fs.path("part/DSD_MTID_METADATA_PART/x")]).status != 0)

            // Cached answers follow every change of the replica.
            fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.1", value: "10.0.0.1:1872"))
            #expect(eventually { fs.read("find/MDS.1") == .success("10.0.0.1:1872\n") })
            fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.1", value: "10.0.0.1:1872", valid: false))
            #expect(eventually { fs.read("find/MDS.1") == .failure(Errno(EHOSTUNREACH)) })
            fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.2", value: "10.0.0.2:1872"))
            #expect(eventually { fs.read("find/MDS.2") == .success("10.0.0.2:1872\n") })
        }
    }

    @Test func everyoneReadsOnlyTheWriterGroupWrites() throws {
        try withMount(settings: { $0.writerGroup = 0 }) { fs in
            let asNobody = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"]
            let read = try fs.run("/usr/bin/setpriv", asNobody + ["/bin/cat", fs.path(Self.table + "/MDS.1")])
            #expect(read.status == 0 && read.stdout == "16.7.13.1:1872 1\n", "\(read.stderr)")
            let write = try fs.run(
                "/usr/bin/setpriv", asNobody + ["/bin/sh", "-c", "echo X:1 > \(fs.path(Self.table))/MDS.1"])
            #expect(write.status != 0 && write.stderr.contains("Permission denied"), "\(write.stderr)")
            let mkdir = try fs.run("/usr/bin/setpriv", asNobody + ["/bin/mkdir", fs.path("tables/X")])
            #expect(mkdir.status != 0)
            #expect(fs.backend.value("DSD_MTID_METADATA", "MDS.1")?.value == "16.7.13.1:1872")
            #expect(!fs.backend.tableExists("X"))
        }
    }
}
