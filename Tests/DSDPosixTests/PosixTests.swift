import DSDPosix
import Glibc
import Synchronization
import Testing

@Suite struct PathsTests {
    @Test(arguments: [
        ("/run/dsd/agent.sock", "/run/dsd"),
        ("/run/dsd/", "/run"),
        ("/agent.sock", "/"),
        ("agent.sock", ""),
        ("data/log/segment", "data/log"),
        ("/run//dsd//agent.sock", "/run//dsd"),
        ("/", "/"),
    ])
    func parent(path: String, expected: String) {
        #expect(Paths.parent(of: path) == expected)
    }
}

@Suite struct StreamsTests {
    /// A pipe with its two ends; both closed by `close()`.
    struct Pipe {
        var read: Int32
        var write: Int32
        init() throws {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw PosixError(operation: "pipe", errno: errno) }
            (read, write) = (fds[0], fds[1])
        }
    }

    @Test func writeThenReadAllRoundTripsMoreThanOnePipeBuffer() throws {
        let pipe = try Pipe()
        defer { close(pipe.read) }
        // 200 KiB: more than a pipe holds (64 KiB), so the writer blocks and writes in parts.
        let text = String(repeating: "MDS.1.1 HOST9:1872 1\n", count: 10_000)
        let writer = PosixThread {
            Streams.write(text, to: pipe.write)
            close(pipe.write)
        }
        let bytes = try Streams.readAll(from: pipe.read)
        writer?.join()
        #expect(bytes.count == text.utf8.count)
        #expect(String(decoding: bytes, as: UTF8.self) == text)
    }

    @Test func writeToAClosedPipeFails() throws {
        let pipe = try Pipe()
        close(pipe.read)
        defer { close(pipe.write) }
        signal(SIGPIPE, SIG_IGN)
        #expect(Streams.write("x", to: pipe.write) == false)
    }

    @Test func readAllOfABadDescriptorThrowsWithErrno() {
        #expect(throws: PosixError.self) { try Streams.readAll(from: -1) }
        do {
            _ = try Streams.readAll(from: -1)
        } catch {
            #expect(error.errno == EBADF)
            #expect("\(error)".hasPrefix("read: "))
        }
    }
}

@Suite struct ThreadTests {
    @Test func detachedThreadsRunAndSignal() {
        let done = PosixSemaphore()
        let sum = Atomic<Int>(0)
        for value in 1...10 {
            #expect(
                PosixThread.detach {
                    sum.add(value, ordering: .relaxed)
                    done.signal()
                })
        }
        for _ in 1...10 { done.wait() }
        #expect(sum.load(ordering: .relaxed) == 55)
    }
}
