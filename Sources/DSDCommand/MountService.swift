import ArgumentParser
import DSDAgent
import DSDFuse
import Glibc
import Logging
import ServiceLifecycle

/// Flags of the `/dsd` mount, shared by `dsd agent` and `dsd up`.
struct MountOptions: ParsableArguments {
    @Option(name: .long, help: "Mount the replica as a filesystem here (e.g. /dsd). Needs root and /dev/fuse.")
    var mount: String?
    @Option(name: .long, help: "Owner (uid) of every file under the mount.")
    var owner: UInt32 = 0
    @Option(name: .long, help: "Group (gid) allowed to write entries and create tables; everyone reads.")
    var writerGroup: UInt32 = 0
}

/// Mounts the agent's replica and keeps it mounted until graceful shutdown, or until the
/// mount goes away from outside (`umount -R`): then it returns, and the daemon's group shuts
/// down gracefully (`daemonGroup`), so an agent never lives on without its mount.
final class MountService: Service, Sendable {
    let mount: FuseMount
    private let unmounted: AsyncStream<Void>
    private let logger: Logger

    /// Mounts at once (before the agent connects, so no replica change is missed).
    init(agent: Agent, options: MountOptions, mountpoint: String, logger: Logger) throws {
        let settings = FuseSettings(mountpoint: mountpoint, ownerUID: options.owner, writerGroup: options.writerGroup)
        let (unmounted, continuation) = AsyncStream.makeStream(of: Void.self)
        let mount = FuseMount(
            backend: AgentFilesystemBackend(agent: agent), settings: settings, logger: logger,
            onExternalUnmount: { continuation.yield() })
        agent.observe { events in mount.replicaChanged(events.map(DSDFuse.ReplicaEvent.init)) }
        agent.countWatchers { mount.openStreamCount }
        // A dead mount left by a crash (ENOTCONN) is cleared by `start`.
        var st = stat()
        if stat(mountpoint, &st) != 0 {
            if errno == ENOENT { throw CommandError.mountpointMissing(path: mountpoint) }
        } else if st.st_mode & S_IFMT != S_IFDIR {
            throw CommandError.mountpointNotDirectory(path: mountpoint)
        }
        do throws(FuseMountError) { try mount.start() } catch {
            throw CommandError.cannotMount(path: mountpoint, error)
        }
        self.mount = mount
        self.unmounted = unmounted
        self.logger = logger
    }

    func run() async throws {
        for await _ in unmounted.cancelOnGracefulShutdown() {
            logger.notice(
                "stopping: the mount is gone", metadata: ["fuse.mountpoint": "\(mount.settings.mountpoint)"])
            break
        }
        mount.unmount()
    }
}

/// The daemon's services in one group: SIGTERM and SIGINT shut it down gracefully, and so
/// does the mount going away (a `MountService` that returns).
func daemonGroup(_ services: [any Service], logger: Logger) -> ServiceGroup {
    let configured = services.map { service in
        ServiceGroupConfiguration.ServiceConfiguration(
            service: service,
            successTerminationBehavior: service is MountService ? .gracefullyShutdownGroup : .cancelGroup)
    }
    return ServiceGroup(
        configuration: ServiceGroupConfiguration(
            services: configured, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [],
            logger: logger))
}
