/// Tunables of the write-ahead log.
public struct LogSettings: Sendable, Equatable {
    /// Size of one segment file. A segment is zero-filled to this size when created.
    public var segmentBytes: Int
    /// Largest payload accepted by `append`.
    public var maxRecordBytes: Int
    /// Zero-fill new segments to `segmentBytes` so appends never change the file size and
    /// `fdatasync` has no metadata to flush.
    public var preallocate: Bool
    /// How long the committer thread polls for new appends before it sleeps.
    public var committerSpinMicroseconds: Int
    /// How long the committer waits for the writers of its previous batch to append again
    /// before it syncs a smaller batch.
    public var groupCommitGatherMicroseconds: Int

    public init(
        segmentBytes: Int, maxRecordBytes: Int, preallocate: Bool, committerSpinMicroseconds: Int,
        groupCommitGatherMicroseconds: Int
    ) {
        self.segmentBytes = segmentBytes
        self.maxRecordBytes = maxRecordBytes
        self.preallocate = preallocate
        self.committerSpinMicroseconds = committerSpinMicroseconds
        self.groupCommitGatherMicroseconds = groupCommitGatherMicroseconds
    }

    public static let `default` = LogSettings(
        // 16 MiB: zero-filling a segment costs tens of milliseconds on a rollover; larger
        // segments make compaction coarser, smaller ones make rollovers frequent.
        segmentBytes: 16 << 20,
        // 4 MiB: a directory change is a few hundred bytes; this only bounds a runaway caller.
        maxRecordBytes: 4 << 20,
        // Preallocation keeps fdatasync to one data flush (no inode size update).
        preallocate: true,
        // 100 µs: about the time a task needs to be resumed and come back with its next
        // append; a sync takes longer, so the spin costs at most a fraction of one core.
        committerSpinMicroseconds: 100,
        // 100 µs: a fraction of one sync (0.2–3 ms on the disks measured); waiting that long
        // lets 16 concurrent writers share one sync instead of alternating big and tiny batches.
        groupCommitGatherMicroseconds: 100
    )

    /// Small segments so tests cover rollover with a few hundred records.
    public static let testing = LogSettings(
        segmentBytes: 16 << 10,
        maxRecordBytes: 8 << 10,
        preallocate: true,
        committerSpinMicroseconds: 100,
        groupCommitGatherMicroseconds: 100
    )
}
