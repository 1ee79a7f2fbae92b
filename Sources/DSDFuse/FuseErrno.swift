import Glibc

/// The single place where the filesystem's failures become errno values.
enum FuseErrno {
    static func of(_ error: BackendError) -> Int32 {
        switch error {
        case .noSuchTable, .noSuchEntry: ENOENT
        case .invalidArgument: EINVAL
        case .unavailable: EIO
        case .timedOut: ETIMEDOUT
        case .exists: EEXIST
        case .notPermitted: EPERM
        case .notEmpty: ENOTEMPTY
        case .limitReached: ENOSPC
        }
    }

    static func of(_ failure: ResolveFailure) -> Int32 {
        switch failure {
        case .notFound: ENOENT
        case .unreachable: EHOSTUNREACH
        }
    }

    static func of(_ error: NameError) -> Int32 {
        switch error {
        case .tooLong: ENAMETOOLONG
        case .invalid: EINVAL
        }
    }

    static func of(_ error: EntryLineError) -> Int32 {
        switch error {
        case .tooLong: EINVAL
        case .malformed: EINVAL
        }
    }
}
