import DSDCore
import DSDEtcd
import DSDFuse
import DSDLog
import DSDPosix
import DSDServer
import DSDWire
import Glibc

/// Why a daemon (`dsd server`, `dsd agent`, `dsd up`) could not start. Each case names the
/// file, directory or address and says what to do; `ExitStatus` prints the sentence once.
enum CommandError: Error {
    case clusterKeyMissing(path: String)
    case clusterKeyUnreadable(path: String, PosixError)
    case clusterKeyInvalid(path: String, ClusterKeyError)
    /// The key file may be read by its group or others (`mode`): refused, as ssh refuses a
    /// private key others can read.
    case clusterKeyExposed(path: String, mode: mode_t)
    case cannotWrite(path: String, PosixError)
    case cannotCreateDirectory(path: String, PosixError)
    /// The listening address could not be bound (`errno`: EADDRINUSE, EACCES, …).
    case cannotListen(address: String, errno: Int32)
    /// The write-ahead log under `--data` could not be opened.
    case dataDirectory(path: String, LogError)
    case mountpointMissing(path: String)
    case mountpointNotDirectory(path: String)
    case cannotMount(path: String, FuseMountError)
    case seedUnreadable(path: String, PosixError)
    case seedInvalid(path: String, LoadFormat.ParseError)
    case seedNotSynced(path: String)
    /// `dsd server --etcd` could not read or initialise the directory in etcd.
    case etcdUnusable(endpoints: String, EtcdError)
    /// What `dsd server --etcd` found under its prefix is not a directory it can serve.
    case etcdDirectory(EtcdStartError)
}

extension CommandError: CustomStringConvertible {
    var description: String {
        switch self {
        case .clusterKeyMissing(let path):
            return "cluster key file \(path) does not exist (create one with: umask 077; dsd keygen > \(path))"
        case .clusterKeyUnreadable(let path, let error):
            return "cannot read the cluster key file \(path): \(error.reason)"
        case .clusterKeyInvalid(let path, let error):
            return "cluster key file \(path) is not a usable key: \(error)"
        case .clusterKeyExposed(let path, let mode):
            let octal = String(mode & 0o777, radix: 8)
            return
                "cluster key file \(path) may be read by others (mode \(octal)): anyone who reads it can join the cluster; restrict it with: chmod 600 \(path)"
        case .cannotWrite(let path, let error):
            return "cannot write \(path): \(error.reason)"
        case .cannotCreateDirectory(let path, let error):
            return "cannot create the directory \(path): \(error.operation) failed: \(error.reason)"
        case .cannotListen(let address, let code) where code == EADDRINUSE:
            return
                "cannot listen on \(address): the address is already in use (another dsd server or dsd up?); stop it or choose another with --listen"
        case .cannotListen(let address, let code):
            return "cannot listen on \(address): \(String(cString: strerror(code)))"
        case .dataDirectory(let path, let error):
            return "cannot open the data directory \(path): \(error)"
        case .etcdUnusable(let endpoints, let error):
            return
                "cannot read the directory from etcd at \(endpoints): \(error); check that the members run and have quorum (etcdctl endpoint health)"
        case .etcdDirectory(let error):
            return "\(error)"
        case .mountpointMissing(let path):
            return "mount point \(path) does not exist: create it (mkdir \(path)) or choose another with --mount"
        case .mountpointNotDirectory(let path):
            return "mount point \(path) is not a directory: choose a directory with --mount"
        case .cannotMount(let path, let error):
            return "cannot mount \(path): \(Self.sentence(error))"
        case .seedUnreadable(let path, let error):
            return "cannot read the seed file \(path): \(error.reason)"
        case .seedInvalid(let path, let error):
            return "seed file \(path), \(error); nothing was loaded"
        case .seedNotSynced(let path):
            return "seed file \(path) not loaded: the agent did not sync with the directory within 10 s"
        }
    }

    private static func sentence(_ error: FuseMountError) -> String {
        switch error {
        case .deviceMissing: "/dev/fuse is missing or not accessible (load the fuse module; mounting needs root)"
        case .alreadyStarted: "this agent has mounted it already"
        case .sessionRejected: "libfuse refused the mount options (its message above says which)"
        case .mountFailed: "the kernel refused the mount (mounting needs root; libfuse's message above says why)"
        case .threadFailed: "no thread could be started for the filesystem"
        case .alreadyMounted(let path):
            "it is already mounted by another dsd agent; unmount it first (umount -R \(path)) or choose another --mount"
        }
    }
}
