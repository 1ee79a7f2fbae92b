import DSDCore
import DSDWire
import Dispatch
import FoundationEssentials
import Logging
import NIOCore
import NIOPosix

/// The driver of the upstream session: reports connection events to the pure
/// `UpstreamSession`, with the time and a random fraction for the jitter, and carries out its
/// directives — connections, the retry timer, announce and sync, failing waiting writes.
extension AgentEngine {
    func start() {
        loop.preconditionInEventLoop()
        perform(session.onStart(now: Self.now()))
        let bound = NIOLoopBound(self, eventLoop: loop)
        pingTimer = loop.scheduleRepeatedTask(
            initialDelay: TimeAmount(settings.pingInterval), delay: TimeAmount(settings.pingInterval)
        ) { _ in bound.value.ping() }
    }

    func stop() {
        loop.preconditionInEventLoop()
        pingTimer?.cancel()
        heartbeatTimer?.cancel()
        retryTimer?.cancel()
        retryTimer = nil
        perform(session.onStop())
    }

    /// The handshake of `handler`'s connection succeeded.
    func authenticated(_ handler: UpstreamHandler) {
        perform(session.onAuthenticated(attempt: handler.attempt, now: Self.now()))
    }

    /// `handler`'s connection closed (or never completed its handshake); `failure` says why
    /// when the handler knows (a failed handshake, silence).
    func disconnected(_ handler: UpstreamHandler, wasAuthenticated: Bool, failure: UpstreamFailure?) {
        if connections[handler.attempt] === handler { connections[handler.attempt] = nil }
        let reason = failure ?? (wasAuthenticated ? .lost(handler.endpoint) : .closedDuringHandshake(handler.endpoint))
        perform(
            session.onDisconnected(
                attempt: handler.attempt, failure: reason, now: Self.now(), random: Double.random(in: 0..<1)))
    }

    private func connectFailed(attempt: UInt64, _ endpoint: AgentSettings.Endpoint, _ error: any Error) {
        connections[attempt] = nil
        perform(
            session.onConnectFailed(
                attempt: attempt, failure: UpstreamFailure(connecting: endpoint, error), now: Self.now(),
                random: Double.random(in: 0..<1)))
    }

    private func retryTimerFired() {
        retryTimer = nil
        perform(session.onRetryTimer(now: Self.now()))
    }

    func ping() {
        upstream?.send(.ping(UInt64(DispatchTime.now().uptimeNanoseconds)))
    }

    /// The wall-clock time of a monotonic instant, for status and error sentences.
    func wallClock(_ instant: Instant) -> Date {
        Date(timeIntervalSinceNow: -(Self.now() - instant).inSeconds)
    }

    // MARK: Directives

    func perform(_ directives: [Session.Directive]) {
        for directive in directives {
            switch directive {
            case .connect(let server, let attempt):
                connect(to: settings.servers[server], attempt: attempt)
            case .scheduleRetry(let delay):
                let bound = NIOLoopBound(self, eventLoop: loop)
                retryTimer?.cancel()
                retryTimer = loop.scheduleTask(in: TimeAmount(delay)) { bound.value.retryTimerFired() }
            case .logFailure(let failure, let suppressed):
                var metadata: Logger.Metadata = ["reason": "\(failure)"]
                if suppressed > 0 { metadata["repeats"] = "\(suppressed)" }
                logger.warning("not connected to the directory", metadata: metadata)
            case .logLost(let server):
                logger.warning(
                    "lost the directory; serving the replica as stale",
                    metadata: ["server": "\(settings.servers[server])"])
            case .announce(let attempt):
                guard let handler = connections[attempt] else { continue }
                logger.info(
                    "connected to directory",
                    metadata: [
                        "server": "\(handler.endpoint)", "resume": "\(session.resume.map { "\($0)" } ?? "snapshot")",
                    ])
                let announce = Announce(bootID: settings.bootID, probePort: settings.probePort, routes: settings.routes)
                handler.send(.announce(announce))
                sendLeases(handler)
            case .sync(let attempt, let version):
                connections[attempt]?.send(.sync(from: version))
            case .failPendingWrites(.connectionLost):
                failAllPending(.connectionLost)
            case .failPendingWrites(.shuttingDown):
                failAllPending(.unavailable(.shuttingDown))
            case .close(let attempt):
                connections[attempt]?.close()
            }
        }
    }

    /// Opens connection `attempt` to `endpoint`: TCP, then the handshake in the pipeline; the
    /// `UpstreamHandler` reports what follows.
    private func connect(to endpoint: AgentSettings.Endpoint, attempt: UInt64) {
        let handler = UpstreamHandler(engine: self, endpoint: endpoint, attempt: attempt, logger: logger)
        connections[attempt] = handler
        let bound = NIOLoopBound(self, eventLoop: loop)
        let boundHandler = NIOLoopBound(handler, eventLoop: loop)
        let settings = self.settings
        ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(settings.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let limit = FrameLimit()
                    let seal = SessionSeal()
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: TimeAmount(settings.pingInterval * PeerTiming.silenceLimit)),
                        ByteToMessageHandler(FrameDecoder(limit: limit, seal: seal)),
                        RecordSealer(seal: seal),
                        MessageToByteHandler(FrameEncoder()),
                        HandshakeHandler(
                            handshake: UpstreamHandler.handshake(settings: settings),
                            settings: .init(timeout: TimeAmount(settings.connectTimeout)), frameLimit: limit,
                            seal: seal),
                        boundHandler.value,
                    ])
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .whenFailure { error in
                bound.value.connectFailed(attempt: attempt, endpoint, error)
            }
    }
}
