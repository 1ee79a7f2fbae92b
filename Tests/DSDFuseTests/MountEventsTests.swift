import DSDCore
import Foundation
import Glibc
import Testing

@testable import DSDFuse

extension MountTests {
    @Suite("events streams and life cycle", .serialized)
    struct Events {
        static let events = "events/DSD_MTID_METADATA"

        @Test func catStreamsMatchingChangesAndCtrlCEndsIt() throws {
            try withMount { fs in
                let cat = try ProcessLines("/bin/cat", [fs.path(Self.events + "/MDS.1")])
                defer { cat.stop() }
                #expect(eventually { fs.mount.openStreamCount == 1 })
                fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.1", value: "A:1"))
                fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.2", value: "B:1"))  // no match
                fs.backend.remoteDelete("DSD_MTID_METADATA", "MDS.1.0")
                #expect(try fs.sh("echo C:1 0 > \(fs.path("tables/DSD_MTID_METADATA/MDS.1"))").status == 0)
                #expect(cat.waitForLines(3))
                #expect(cat.lines == ["ADD MDS.1 A:1 1", "DEL MDS.1.0", "ADD MDS.1 C:1 0"])
                kill(cat.pid, SIGINT)
                #expect(cat.waitForExit(timeout: .seconds(2)))
                #expect(eventually { fs.mount.openStreamCount == 0 })
            }
        }

        @Test func wholeTableStream() throws {
            try withMount { fs in
                let cat = try ProcessLines("/bin/cat", [fs.path(Self.events + "/" + EventsPrefix.wholeTable)])
                defer { cat.stop() }
                #expect(eventually { fs.mount.openStreamCount == 1 })
                fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "X", value: "1"))
                fs.backend.remotePut("DSD_HOST_ROUTE", Entry(key: "HOST1.0", value: "127.0.0.1"))  // other table
                fs.backend.remoteDelete("DSD_MTID_METADATA", "MDS.2")
                #expect(cat.waitForLines(2))
                #expect(cat.lines == ["ADD X 1 1", "DEL MDS.2"])
            }
        }

        @Test func slowReaderGetsRescanWithABoundedQueue() throws {
            try withMount { fs in
                let fd = open(fs.path(Self.events + "/MDS"), O_RDONLY)
                #expect(fd >= 0)
                defer { close(fd) }
                let bound = fs.mount.settings.eventQueueBound
                for index in 0..<(bound * 3 + 2) {
                    fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.\(index)", value: "v"))
                }
                fs.mount.waitUntilIdleForTesting()
                var buffer = [UInt8](repeating: 0, count: 65536)
                let count = read(fd, &buffer, buffer.count)
                let lines = String(decoding: buffer[0..<max(count, 0)], as: UTF8.self).split(separator: "\n")
                #expect(lines.first == "RESCAN")
                #expect(lines.count <= bound)
                #expect(lines.last == "ADD MDS.\(bound * 3 + 1) v 1")
            }
        }

        @Test func nonBlockingReadAndPoll() throws {
            try withMount { fs in
                let fd = open(fs.path(Self.events + "/MDS.1"), O_RDONLY | O_NONBLOCK)
                #expect(fd >= 0)
                defer { close(fd) }
                var buffer = [UInt8](repeating: 0, count: 4096)
                #expect(read(fd, &buffer, buffer.count) == -1 && errno == EAGAIN)
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                #expect(poll(&pfd, 1, 0) == 0)
                let writer = Thread {
                    usleep(100_000)
                    fs.backend.remotePut("DSD_MTID_METADATA", Entry(key: "MDS.1", value: "P:1"))
                }
                writer.start()
                #expect(poll(&pfd, 1, 3000) == 1 && pfd.revents & Int16(POLLIN) != 0)
                let count = read(fd, &buffer, buffer.count)
                #expect(String(decoding: buffer[0..<max(count, 0)], as: UTF8.self) == "ADD MDS.1 P:1 1\n")
            }
        }

        @Test func unmountEndsBlockedReadersAndLeavesNoMount() throws {
            var root = ""
            var reader: ProcessLines?
            try withMount { fs in
                root = fs.root
                reader = try ProcessLines("/bin/cat", [fs.path(Self.events + "/MDS.1")])
                #expect(eventually { fs.mount.openStreamCount == 1 })
                let started = ContinuousClock.now
                fs.mount.unmount()
                #expect(ContinuousClock.now - started < .seconds(5))
            }
            #expect(reader?.waitForExit(timeout: .seconds(3)) == true)
            let mounts = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)
            #expect(!mounts.contains(root))
        }

        @Test func aDeadMountIsClearedOnStart() throws {
            try withMount { fs in
                let connection = try #require(fs.mount.connectionForTesting)
                // Simulate a crashed daemon: abort its connection; the mountpoint answers ENOTCONN.
                FuseMount.abortConnection(connection)
                #expect(FuseMount.isDeadMount(fs.root))

                let backend = InMemoryBackend(tables: sampleTables)
                let second = FuseMount(
                    backend: backend, settings: .testing(mountpoint: fs.root), logger: .init(label: "dsd.fuse.test"))
                try second.start()
                defer { second.unmount() }
                #expect(!FuseMount.isDeadMount(fs.root))
                #expect(fs.read("tables/DSD_MTID_METADATA/MDS.1") == .success("16.7.13.1:1872 1\n"))
            }
        }
    }
}
