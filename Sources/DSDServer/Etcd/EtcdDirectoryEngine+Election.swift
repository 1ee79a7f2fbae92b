import DSDCore
import DSDEtcd
import DSDWire
import Dispatch
import Logging
import NIOCore

/// This server's etcd lease and its part in the election.
struct ElectionState {
    /// The lease holding this server's presence and, when master, the master key.
    var lease: Int64?
    /// When the lease was last granted or renewed (monotonic nanoseconds).
    var renewedAt: UInt64 = 0
    /// The master key's create revision while this server is master: the fencing token.
    var masterRevision: Int64?
    var campaigning = false
    /// The name of this server's presence key: its name and lease, unique among servers.
    var presenceName = ""

    var isMaster: Bool { masterRevision != nil }
    var fence: EtcdWrite.Fence? { masterRevision.map { EtcdWrite.Fence(masterRevision: $0) } }
}

/// Negotiation = election (PRODUCT §redundancy). Each server holds one etcd lease, renewed
/// every third of its TTL. The master is the server whose lease holds `P master`, created if
/// absent; the key's create revision is the fencing token every derived write compares. A
/// master whose last renewal is older than TTL minus a margin steps down before etcd can let
/// the key go, so two servers never both act as master. When the key goes (its lease expired
/// or was revoked), the watch reports it and every server campaigns.
extension EtcdDirectoryEngine {
    static func monotonicNow() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Grants the lease, writes the presence key, campaigns, and keeps the lease alive.
    func startElection() {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        let client = self.client
        let ttl = backend.leaseTTL
        let interval = backend.renewInterval
        let logger = self.logger
        Task {
            while !(try await loop.submit { bound.value.stopping }.get()) {
                let lease = try await loop.submit { bound.value.election.lease }.get()
                do {
                    if let lease {
                        if try await client.keepAlive(lease: lease) == nil {
                            logger.warning("this server's etcd lease expired; taking a new one")
                            try await loop.submit { bound.value.leaseLost() }.get()
                            continue
                        }
                        try await loop.submit { bound.value.leaseRenewed() }.get()
                    } else {
                        let granted = try await client.grantLease(ttl: ttl)
                        try await loop.submit { bound.value.leaseGranted(granted.id) }.get()
                    }
                } catch {
                    logger.notice(
                        "cannot renew this server's etcd lease",
                        metadata: ["error": "\(EtcdDirectoryEngine.sentence(error))"])
                    try await loop.submit { bound.value.checkStepDown() }.get()
                    try await Task.sleep(for: .milliseconds(250))
                    continue
                }
                try await Task.sleep(for: interval)
            }
        }
    }

    private func leaseGranted(_ id: Int64) {
        let renewal = !election.presenceName.isEmpty
        election.lease = id
        election.renewedAt = Self.monotonicNow()
        election.presenceName = "\(settings.name)-\(String(UInt64(bitPattern: id), radix: 16))"
        if renewal {
            // The keys of the lost lease are gone: the peers' writer keys start afresh, and
            // every connected agent's presence is written again under the new lease.
            writers.removeAll()
            writerPeers.removeAll()
            rewriteHostedRecords()
        }
        writeBarrier()
        campaign()
    }

    private func leaseRenewed() {
        election.renewedAt = Self.monotonicNow()
    }

    private func leaseLost() {
        election.lease = nil
        stepDown(reason: "its etcd lease expired")
    }

    /// A master that has not renewed its lease for TTL minus the margin steps down.
    private func checkStepDown() {
        guard election.isMaster else { return }
        let age = Duration.nanoseconds(Int64(Self.monotonicNow() - election.renewedAt))
        if age > .seconds(backend.leaseTTL) - backend.stepDownMargin {
            stepDown(reason: "it could not renew its etcd lease for \(age / .milliseconds(1)) ms")
        }
    }

    func stepDown(reason: String) {
        guard election.isMaster else { return }
        election.masterRevision = nil
        stopDuties()
        logger.warning("no longer master", metadata: ["reason": "\(reason)"])
    }

    /// Creates the master key if absent, bound to this server's lease.
    func campaign() {
        guard let lease = election.lease, !election.isMaster, !election.campaigning, !stopping else { return }
        election.campaigning = true
        let key = layout.masterKey
        let write = EtcdWrite.Campaign(key: key, name: settings.name, lease: lease)
        let client = self.client
        let loop = self.loop
        let bound = NIOLoopBound(self, eventLoop: loop)
        Task {
            let outcome: Result<TxnResponse, any Error>
            do {
                outcome = .success(try await client.txn(write.compares, success: write.success, failure: write.failure))
            } catch {
                outcome = .failure(error)
            }
            loop.execute { bound.value.campaigned(outcome, lease: lease) }
        }
    }

    private func campaigned(_ outcome: Result<TxnResponse, any Error>, lease: Int64) {
        election.campaigning = false
        switch outcome {
        case .success(let response) where response.succeeded:
            guard election.lease == lease else { return }
            election.masterRevision = response.header.revision
            logger.notice(
                "became master", metadata: ["fencing.revision": "\(response.header.revision)", "lease": "\(lease)"])
            becameMaster()
        case .success(let response):
            // Someone holds the key. If it is this lease (a campaign answered late), resume.
            if case .range(let range)? = response.answers.first, let holder = range.kvs.first {
                if holder.lease == lease {
                    election.masterRevision = holder.createRevision
                    becameMaster()
                } else {
                    logger.info(
                        "another server is master",
                        metadata: ["master": "\(String(decoding: holder.value, as: UTF8.self))"])
                }
            } else {
                // It went between the compare and the read: try again.
                campaign()
            }
        case .failure(let error):
            logger.notice(
                "campaign for master failed; trying again",
                metadata: ["error": "\(EtcdDirectoryEngine.sentence(error))"])
            let bound = NIOLoopBound(self, eventLoop: loop)
            loop.scheduleTask(in: .milliseconds(500)) { bound.value.campaign() }
        }
    }

    /// The singleton duties start (`startDuties`), and a backup whose primary became invalid
    /// while no server was master is promoted now.
    private func becameMaster() {
        startDuties()
        for table in directory.tableNames.compactMap({ directory.table(named: $0)?.id }) {
            for entry in directory.search(table: table, prefix: "") where !entry.valid {
                for mutation in Promotion.decide(
                    directory, table: table, changedKey: entry.key, settings: settings.promotion)
                {
                    commitDerived(mutation)
                }
            }
        }
    }

    /// Promotion after a change this master saw (FIG. 2B).
    func promote(after change: Change) {
        for mutation in Promotion.decide(directory, after: change, settings: settings.promotion) {
            commitDerived(mutation)
        }
    }

    /// A write the master decides itself, guarded by its fencing token: etcd refuses it once
    /// another server is master.
    func commitDerived(_ mutation: Mutation) {
        guard let fence = election.fence else { return }
        let write = EtcdWrite(mutation, layout: layout, fence: fence)
        send(write) { engine, outcome in
            switch outcome {
            case .success(let response) where response.succeeded:
                engine.logger.info("derived write committed", metadata: ["revision": "\(response.header.revision)"])
            case .success(let response):
                if case .deposed = write.refusal(response.answers) {
                    engine.deposedWrites += 1
                    engine.logger.warning(
                        "etcd refused a write of this server as master: another server is master",
                        metadata: ["refused.total": "\(engine.deposedWrites)"])
                    engine.stepDown(reason: "another server holds the master key")
                } else {
                    engine.logger.info("derived write no longer applies", metadata: ["mutation": "\(mutation)"])
                }
            case .failure(let error):
                engine.logger.error(
                    "derived write failed", metadata: ["error": "\(EtcdDirectoryEngine.sentence(error))"])
            }
        }
    }
}

extension EtcdWrite {
    /// The campaign: create the master key bound to `lease` if absent, else read who holds it.
    struct Campaign {
        var compares: [Compare]
        var success: [TxnOperation]
        var failure: [TxnOperation]

        init(key: [UInt8], name: String, lease: Int64) {
            compares = [.absent(key)]
            success = [.put(key: key, value: Array(name.utf8), lease: lease)]
            failure = [.range(RangeRequest(.key(key)))]
        }
    }
}

extension EtcdDirectoryEngine {
    /// A clean shutdown: the tasks stop, and the lease is revoked, so the master key goes at
    /// once and another server takes over without waiting for the TTL.
    static func stop(_ engine: NIOLoopBound<EtcdDirectoryEngine>) async {
        let lease = try? await engine.eventLoop.submit { () -> Int64? in
            let value = engine.value
            value.stopping = true
            value.stepDown(reason: "shutting down")
            value.writeCache(wait: true)
            return value.election.lease
        }.get()
        guard let lease else { return }
        let client = try? await engine.eventLoop.submit { engine.value.client }.get()
        try? await client?.revokeLease(lease)
    }
}
