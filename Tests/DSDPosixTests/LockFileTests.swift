import DSDPosix
import Glibc
import Testing

@Suite struct LockFileTests {
    static func scratch() -> String {
        var template = Array("/tmp/dsd-lock-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    @Test func aHeldLockIsRefusedWithTheHoldersPidAndFreedWithItsHolder() throws {
        let path = Self.scratch() + "/lock"
        var first: LockFile? = try LockFile.acquire(path)
        #expect(first?.path == path)
        // flock locks belong to the open file: a second open is refused even in this process.
        #expect(throws: LockFile.Failure.held(path: path, pid: getpid())) { try LockFile.acquire(path) }
        first = nil
        let again = try LockFile.acquire(path)
        #expect(again.path == path)
    }

    @Test func makeDirectoriesCreatesParentsAndNamesWhatIsInTheWay() throws {
        let root = Self.scratch()
        try Paths.makeDirectories(root + "/a/b/c")
        var st = stat()
        #expect(stat(root + "/a/b/c", &st) == 0 && st.st_mode & S_IFMT == S_IFDIR)
        try Paths.makeDirectories(root + "/a/b/c")  // already there: fine
        let file = open(root + "/file", O_CREAT | O_WRONLY, 0o644)
        close(file)
        #expect(throws: PosixError.self) { try Paths.makeDirectories(root + "/file/sub") }
        do throws(PosixError) {
            try Paths.makeDirectories(root + "/file/sub")
        } catch {
            #expect(error.operation == "mkdir \(root)/file" && error.errno == ENOTDIR, "\(error)")
        }
    }
}
