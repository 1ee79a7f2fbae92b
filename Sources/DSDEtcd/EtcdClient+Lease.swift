/// Leases: grant, renew (one POST per renewal), revoke, time-to-live. Renewing on a timer is
/// the caller's business: the client starts no tasks of its own.
extension EtcdClient {
    /// A new lease of `ttl` seconds (with `id` if non-zero, else etcd picks one).
    public func grantLease(ttl: Int64, id: Int64 = 0) async throws -> Lease {
        let request = Wire.LeaseGrantRequest(TTL: String(ttl), ID: Wire.int(id))
        return try await call(.leaseGrant, request, as: Wire.LeaseAnswer.self) { answer in
            Lease(id: try Wire.decodeInt(answer.ID, "ID"), ttl: try Wire.decodeInt(answer.TTL, "TTL"))
        }
    }

    /// Renews the lease to its granted TTL; returns that TTL, or nil if the lease no longer
    /// exists (it expired or was revoked: its keys are gone).
    public func keepAlive(lease id: Int64) async throws -> Int64? {
        let request = Wire.LeaseID(ID: String(id), keys: nil)
        return try await call(.leaseKeepAlive, request, as: Wire.Wrapped<Wire.LeaseAnswer>.self) { wrapped in
            guard let answer = wrapped.result else {
                throw WireProblem("the keepalive answer has no result (\(wrapped.error?.text ?? "no error either"))")
            }
            let ttl = try Wire.decodeInt(answer.TTL, "TTL")
            return ttl > 0 ? ttl : nil
        }
    }

    /// Ends the lease now and deletes its keys. A lease that no longer exists is refused
    /// (`EtcdError.Rejection.leaseNotFound`).
    public func revokeLease(_ id: Int64) async throws {
        try await call(.leaseRevoke, Wire.LeaseID(ID: String(id), keys: nil), as: Wire.HeaderOnly.self) { _ in () }
    }

    /// What etcd knows of the lease, nil if it no longer exists; `keys` lists its keys too.
    public func timeToLive(lease id: Int64, keys: Bool = false) async throws -> LeaseTimeToLive? {
        let request = Wire.LeaseID(ID: String(id), keys: Wire.flag(keys))
        return try await call(.leaseTimeToLive, request, as: Wire.LeaseAnswer.self) { answer in
            let ttl = try Wire.decodeInt(answer.TTL, "TTL")
            guard ttl >= 0 else { return nil }
            var keyList: [[UInt8]] = []
            for key in answer.keys ?? [] { keyList.append(try Wire.decodeBytes(key, "keys")) }
            return LeaseTimeToLive(
                id: id, ttl: ttl, grantedTTL: try Wire.decodeInt(answer.grantedTTL, "grantedTTL"), keys: keyList)
        }
    }
}
