/// Settings of the `/dsd` mount.
public struct FuseSettings: Sendable {
    /// Where to mount.
    public var mountpoint: String
    /// Owner of every node; with `writerGroup`, who may change entries.
    public var ownerUID: UInt32
    /// Group allowed to write entries and create tables (mode 0664 / 0775).
    public var writerGroup: UInt32
    /// How long the kernel may cache names and attributes. Changes invalidate precisely, so
    /// this only bounds memory of forgotten names.
    public var cacheTimeout: Double
    /// Lines an `events` reader may fall behind before it gets `RESCAN`.
    public var eventQueueBound: Int
    /// Most threads of the FUSE loop; blocking writes each hold one until committed.
    public var maxThreads: UInt32
    /// Idle FUSE threads kept around.
    public var maxIdleThreads: UInt32
    /// How long the notifier waits for a local write's reply before invalidating anyway.
    public var localReplyWait: Duration
    /// How long a local change is remembered to recognise its replica event (not reflected twice).
    public var localEchoGrace: Duration
    /// How long `unmount` waits for the FUSE loop to end before aborting the connection.
    public var unmountWait: Duration
    /// Tree changes in one replica update above which the mount forgets each affected table's
    /// names at once instead of replaying every change (see `Docs/filesystem.md`, "Many
    /// changes at once").
    public var bulkThreshold: Int
    /// File system name shown by `mount` (`fsname=`), and the `subtype=`.
    public var fsName: String
    public var subtype: String

    /// The defaults are the production ones:
    /// - owner root, writer group root: the agent's service configures a real group;
    /// - cache 3600 s: every change invalidates precisely, so long timeouts cost nothing and
    ///   make repeated reads kernel-cached (see Docs/filesystem.md);
    /// - 4096 queued lines: a burst of a full standard table fits; a slower reader rescans;
    /// - 64 threads: each blocked write (waiting for the directory's commit) holds a thread;
    /// - 5 s reply wait: longer than a commit normally takes, short enough to never wedge;
    /// - 60 s echo grace: a committed change reaches the replica well within it;
    /// - 1,000 changes: replaying one costs about 134 µs (an open, a write and a close through
    ///   the mount), so below the threshold an update is reflected within about 0.13 s.
    public init(
        mountpoint: String, ownerUID: UInt32 = 0, writerGroup: UInt32 = 0, cacheTimeout: Double = 3600,
        eventQueueBound: Int = 4096, maxThreads: UInt32 = 64, maxIdleThreads: UInt32 = 4,
        localReplyWait: Duration = .seconds(5), localEchoGrace: Duration = .seconds(60),
        unmountWait: Duration = .seconds(2), bulkThreshold: Int = 1000, fsName: String = "dsd",
        subtype: String = "dsd"
    ) {
        self.mountpoint = mountpoint
        self.ownerUID = ownerUID
        self.writerGroup = writerGroup
        self.cacheTimeout = cacheTimeout
        self.eventQueueBound = eventQueueBound
        self.maxThreads = maxThreads
        self.maxIdleThreads = maxIdleThreads
        self.localReplyWait = localReplyWait
        self.localEchoGrace = localEchoGrace
        self.unmountWait = unmountWait
        self.bulkThreshold = bulkThreshold
        self.fsName = fsName
        self.subtype = subtype
    }

    /// Small queues and short waits for tests.
    public static func testing(mountpoint: String) -> FuseSettings {
        FuseSettings(
            mountpoint: mountpoint, eventQueueBound: 16, maxThreads: 16, localReplyWait: .seconds(2),
            localEchoGrace: .seconds(10), unmountWait: .seconds(2), bulkThreshold: 64, fsName: "dsd-test")
    }
}
