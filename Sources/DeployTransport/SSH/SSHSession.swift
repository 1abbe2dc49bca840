import CLibSSH2
import DeployConfig
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One authenticated SSH connection to one host, reused for every command of a run.
///
/// An actor, so one task at a time calls into its libssh2 session; several tasks may still use it
/// at once (a command while a port forward relays), each on its own channel. libssh2 runs in
/// non-blocking mode and every wait goes through the shared `EventLoop`.
public actor SSHSession {
  public nonisolated let target: SSHTarget
  /// How long connecting took: TCP (or the jump host's tunnel), handshake, host key check and
  /// authentication.
  public nonisolated let connectDuration = Locked<Duration?>(nil)
  let handle: SessionHandle
  let token: UInt64
  let loop = EventLoop.shared

  private var nextOperation: UInt64 = 1
  /// The operation whose call left a packet half-sent. libssh2 (1.10) refuses any other packet
  /// until that same call is repeated and the packet is out, so everyone else waits for it.
  private(set) var sendOwner: UInt64?
  /// Set once the connection is unusable; every later call fails with it.
  private(set) var failure: SSHError?
  private var established = false
  private var closing = false
  private var channelOpening = false
  private var channelOpenQueue: [CheckedContinuation<Void, Never>] = []
  private var keepalive: Task<Void, Never>?
  private var lastTraffic = ContinuousClock.now
  private var tunnel: JumpTunnel?
  var forwards: [UInt64: Task<Void, Never>] = [:]
  /// Channels whose close request is sent but not yet confirmed by the server.
  private var closingChannels: [ChannelHandle] = []

  init(target: SSHTarget, handle: SessionHandle, tunnel: JumpTunnel?) {
    self.target = target
    self.handle = handle
    self.tunnel = tunnel
    self.token = EventLoop.shared.makeToken()
  }

  deinit {
    // Channels freed below must not wait for a server that will not be asked anything more.
    handle.socket.shutdown()
    keepalive?.cancel()
    for task in forwards.values { task.cancel() }
    EventLoop.shared.forget(token: token)
  }

  // MARK: Connecting

  /// Connects, checks the host key against known_hosts, authenticates. Through `target.jump` if
  /// set (a jump session of its own, closed with this one).
  public static func connect(to target: SSHTarget) async throws -> SSHSession {
    try await connect(to: target, through: nil)
  }

  /// `jump`: an already connected session to `target.jump`, shared with other targets.
  static func connect(to target: SSHTarget, through sharedJump: SSHSession?) async throws -> SSHSession {
    let started = ContinuousClock.now
    guard LibSSH2.initialized else {
      throw SSHError.library(
        host: target.name, operation: "libssh2_init", code: -1, message: "cannot initialise libssh2")
    }
    let socket: SocketHandle
    var tunnel: JumpTunnel?
    if let jump = target.jump {
      let jumpName = jump.target.name
      let jumpSession: SSHSession
      if let sharedJump {
        jumpSession = sharedJump
      } else {
        do {
          jumpSession = try await connect(to: jump.target, through: nil)
        } catch let error as SSHError {
          throw SSHError.jumpFailed(host: target.name, jump: jumpName, underlying: error)
        }
      }
      do {
        (socket, tunnel) = try await jumpSession.openTunnel(for: target, ownsJump: sharedJump == nil)
      } catch {
        if sharedJump == nil { await jumpSession.close() }
        throw error
      }
    } else {
      socket = try await connectTCP(target)
    }
    guard let handle = SessionHandle(socket: socket) else {
      throw SSHError.library(
        host: target.name, operation: "libssh2_session_init", code: -1, message: "out of memory")
    }
    let session = SSHSession(target: target, handle: handle, tunnel: tunnel)
    do {
      try await session.setUp()
      session.connectDuration.withLock { $0 = .now - started }
    } catch {
      await session.close()
      throw error
    }
    return session
  }

  private static func connectTCP(_ target: SSHTarget) async throws -> SocketHandle {
    let deadline = ContinuousClock.now + target.connectTimeout
    do {
      let addresses = try await Sockets.resolve(target.address, port: target.port)
      return try await Sockets.connect(to: addresses, until: deadline)
    } catch let failure as ConnectFailure {
      switch failure {
      case .notResolved(let reason):
        throw SSHError.nameNotResolved(host: target.name, address: target.address, reason: reason)
      case .refused(let address):
        throw SSHError.connectionRefused(host: target.name, endpoint: address)
      case .unreachable(let address, let reason):
        throw SSHError.unreachable(host: target.name, endpoint: address, reason: reason)
      case .timedOut:
        throw SSHError.timedOut(
          host: target.name, endpoint: target.endpoint, phase: .connect, after: target.connectTimeout)
      }
    }
  }

  /// Algorithms we offer: modern ones only (no SHA-1 key exchange, no CBC ciphers, no MD5/SHA-1
  /// MACs); host key types already recorded for this host first.
  private func configureAlgorithms(knownAlgorithms: [HostKeyAlgorithm]) {
    let known = knownAlgorithms.map(\.name)
    let hostKeys = known + HostKeyAlgorithm.offered.map(\.name).filter { !known.contains($0) }
    let preferences: [(Int32, String)] = [
      (
        LIBSSH2_METHOD_KEX,
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
          + "ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
          + "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
      ),
      (LIBSSH2_METHOD_HOSTKEY, hostKeys.joined(separator: ",")),
      (LIBSSH2_METHOD_CRYPT_CS, "aes128-ctr,aes192-ctr,aes256-ctr"),
      (LIBSSH2_METHOD_CRYPT_SC, "aes128-ctr,aes192-ctr,aes256-ctr"),
      (LIBSSH2_METHOD_MAC_CS, "hmac-sha2-256,hmac-sha2-512"),
      (LIBSSH2_METHOD_MAC_SC, "hmac-sha2-256,hmac-sha2-512"),
    ]
    for (method, list) in preferences {
      libssh2_session_method_pref(handle.raw, method, list)
    }
  }

  private func setUp() async throws {
    guard let knownHosts = KnownHosts(session: handle) else {
      throw SSHError.library(
        host: target.name, operation: "libssh2_knownhost_init", code: handle.lastErrno,
        message: handle.lastError)
    }
    try knownHosts.load(Self.expandingTilde(target.knownHostsFile), for: target.knownHostsName)
    configureAlgorithms(knownAlgorithms: knownHosts.knownAlgorithms(for: target.knownHostsName))

    let fd = handle.socket.fd
    try await phase(.handshake) { deadline in
      let rc = try await self.drive(until: deadline) { libssh2_session_handshake(self.handle.raw, fd) }
      guard rc == 0 else {
        let reason = self.handle.lastError
        throw SSHError.handshakeFailed(
          host: self.target.name, endpoint: self.target.endpoint,
          reason: reason.isEmpty ? "the server closed the connection" : reason)
      }
    }
    established = true
    try verifyHostKey(knownHosts)
    try await phase(.authentication) { deadline in try await self.authenticate(until: deadline) }
    startKeepalive()
  }

  /// Runs one step of connection set-up under its own `connectTimeout`.
  private func phase(
    _ phase: SSHError.Phase, _ body: (ContinuousClock.Instant) async throws -> Void
  ) async throws {
    do {
      try await body(.now + target.connectTimeout)
    } catch is DeadlineExceeded {
      throw SSHError.timedOut(
        host: target.name, endpoint: target.endpoint, phase: phase, after: target.connectTimeout)
    }
  }

  // MARK: Closing

  /// Ends port forwards and the connection, politely (a disconnect message) if it still works.
  /// Further calls fail with `SSHError.closed`.
  public func close() async {
    guard !closing else { return }
    closing = true
    keepalive?.cancel()
    let running = Array(forwards.values)
    forwards.removeAll()
    for task in running { task.cancel() }
    for task in running { await task.value }
    if failure == nil && established {
      // A courtesy to the server: the connection ends the same whether it is delivered or not.
      _ = try? await drive(until: .now + .seconds(2), cancellable: false) {
        dc_libssh2_session_disconnect(self.handle.raw, "deployctl: done")
      }
    }
    fail(.closed(host: target.name))
    if let tunnel {
      self.tunnel = nil
      await tunnel.close()
    }
  }

  /// False once the connection was lost or closed.
  public var isUsable: Bool { failure == nil }

  func ensureUsable() throws {
    if let failure { throw failure }
  }

  /// Marks the session unusable and wakes everyone waiting on it, so they fail at once.
  func fail(_ error: SSHError) {
    if failure == nil { failure = error }
    handle.socket.shutdown()
    loop.poke(token)
  }

  // MARK: Driving libssh2 without blocking

  struct DeadlineExceeded: Error {}

  enum Attempt<Result> {
    case done(Result)
    case again
  }

  func newOperation() -> UInt64 {
    defer { nextOperation += 1 }
    return nextOperation
  }

  /// One libssh2 call, with the bookkeeping that lets several channels share the session: who
  /// owns a half-sent packet, and waking the others when this call read from the socket (it may
  /// have queued their data).
  func attempt<R>(_ operation: UInt64, _ call: () -> R, wouldBlock: (R) -> Bool) throws -> Attempt<R> {
    if let failure { throw failure }
    if let owner = sendOwner, owner != operation { return .again }
    let before = handle.received
    let result = call()
    let blocked = wouldBlock(result)
    var wakeOthers = handle.received != before
    if wakeOthers { lastTraffic = .now }
    if blocked && libssh2_session_block_directions(handle.raw) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 {
      sendOwner = operation
    } else if sendOwner == operation {
      sendOwner = nil
      wakeOthers = true
    }
    if wakeOthers { loop.poke(token) }
    return blocked ? .again : .done(result)
  }

  func attempt(_ operation: UInt64, _ call: () -> Int32) throws -> Attempt<Int32> {
    try attempt(operation, call, wouldBlock: { $0 == LIBSSH2_ERROR_EAGAIN })
  }

  func attempt(_ operation: UInt64, _ call: () -> Int) throws -> Attempt<Int> {
    try attempt(operation, call, wouldBlock: { $0 == Int(LIBSSH2_ERROR_EAGAIN) })
  }

  /// Waits until the session's socket is ready the way libssh2 asked, `extra` descriptors are
  /// ready, the session is poked, or `deadline` passes (then throws `DeadlineExceeded`).
  func waitForSocket(
    _ operation: UInt64, generation: UInt64, until deadline: ContinuousClock.Instant?,
    cancellable: Bool = true, includeSession: Bool = true, extra: [EventLoop.Interest] = []
  ) async throws {
    var interests = extra
    var limit = deadline
    if let owner = sendOwner, owner != operation {
      // Another operation has to finish its packet first; it pokes us when it has.
      let check = ContinuousClock.now + .seconds(1)
      limit = limit.map { min($0, check) } ?? check
    } else if includeSession {
      let directions = libssh2_session_block_directions(handle.raw)
      var events: Int16 = 0
      if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
      if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
      interests.append(.init(fd: handle.socket.fd, events: events == 0 ? Int16(POLLIN) : events))
    }
    let wake = try await loop.wait(
      for: interests, token: token, since: generation, until: limit, cancellable: cancellable)
    if wake == .timedOut, let deadline, deadline <= .now { throw DeadlineExceeded() }
  }

  /// Repeats `call` until it stops returning EAGAIN, waiting for the socket in between.
  /// `abandonBreaksSession`: libssh2 keeps this call's state in the session (channel opens), so
  /// giving up half-way leaves the session unusable.
  func drive<R>(
    until deadline: ContinuousClock.Instant?, cancellable: Bool = true, abandonBreaksSession: Bool = false,
    _ call: () -> R, wouldBlock: (R) -> Bool
  ) async throws -> R {
    let operation = newOperation()
    while true {
      let generation = loop.generation(token)
      if case .done(let result) = try attempt(operation, call, wouldBlock: wouldBlock) {
        return result
      }
      do {
        try await waitForSocket(operation, generation: generation, until: deadline, cancellable: cancellable)
      } catch {
        abandon(operation, breaksSession: abandonBreaksSession)
        throw error
      }
    }
  }

  func drive(
    until deadline: ContinuousClock.Instant?, cancellable: Bool = true, abandonBreaksSession: Bool = false,
    _ call: () -> Int32
  ) async throws -> Int32 {
    try await drive(
      until: deadline, cancellable: cancellable, abandonBreaksSession: abandonBreaksSession, call,
      wouldBlock: { $0 == LIBSSH2_ERROR_EAGAIN })
  }

  /// An operation gives up (timeout, cancellation). If it left a packet half-sent, nobody can
  /// send on this connection any more.
  func abandon(_ operation: UInt64, breaksSession: Bool = false) {
    if sendOwner == operation || breaksSession {
      fail(
        .connectionLost(
          host: target.name, during: "an interrupted operation",
          reason: "it stopped half-way through a message, which leaves the connection unusable"))
    }
  }

  /// Every libssh2 result code goes through here: negative codes become a typed error with
  /// libssh2's own message. Socket-level failures also mark the session lost.
  @discardableResult
  func check(_ code: Int32, _ operation: String) throws(SSHError) -> Int32 {
    guard code < 0 else { return code }
    throw error(for: code, operation)
  }

  @discardableResult
  func check(_ code: Int, _ operation: String) throws(SSHError) -> Int {
    guard code < 0 else { return code }
    throw error(for: Int32(clamping: code), operation)
  }

  func error(for code: Int32, _ operation: String) -> SSHError {
    let message = handle.lastError
    if let failure { return failure }
    if Self.isConnectionFailure(code) {
      let error = SSHError.connectionLost(
        host: target.name, during: operation, reason: message.isEmpty ? "libssh2 error \(code)" : message)
      fail(error)
      return error
    }
    return .library(host: target.name, operation: operation, code: code, message: message)
  }

  static func isConnectionFailure(_ code: Int32) -> Bool {
    switch code {
    case LIBSSH2_ERROR_SOCKET_NONE, LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_RECV,
      LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_TIMEOUT, LIBSSH2_ERROR_BAD_SOCKET,
      LIBSSH2_ERROR_TIMEOUT, LIBSSH2_ERROR_DECRYPT, LIBSSH2_ERROR_INVALID_MAC, LIBSSH2_ERROR_BAD_USE,
      LIBSSH2_ERROR_KEX_FAILURE, LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE, LIBSSH2_ERROR_BANNER_RECV,
      LIBSSH2_ERROR_BANNER_SEND, LIBSSH2_ERROR_PROTO:
      return true
    default:
      return false
    }
  }

  // MARK: Channels

  /// Opens a channel. libssh2 keeps the state of a channel being opened in the session, so
  /// opens take turns; everything else on existing channels goes on meanwhile.
  func openChannel(
    until deadline: ContinuousClock.Instant?, request: String, _ open: () -> OpaquePointer?
  ) async throws -> ChannelHandle {
    try ensureUsable()
    reapClosingChannels()
    if channelOpening {
      await withCheckedContinuation { channelOpenQueue.append($0) }
    } else {
      channelOpening = true
    }
    defer {
      if channelOpenQueue.isEmpty {
        channelOpening = false
      } else {
        channelOpenQueue.removeFirst().resume()
      }
    }
    let raw = try await drive(
      until: deadline, abandonBreaksSession: true, open,
      wouldBlock: { $0 == nil && self.handle.lastErrno == LIBSSH2_ERROR_EAGAIN })
    guard let raw else {
      let code = handle.lastErrno
      if Self.isConnectionFailure(code) || failure != nil { throw error(for: code, "opening \(request)") }
      throw SSHError.channelRefused(host: target.name, request: request, reason: handle.lastError)
    }
    return ChannelHandle(raw, session: handle)
  }

  /// Closes and frees a channel, also after a timeout or a cancellation (so it never waits long
  /// and ignores cancellation). libssh2 frees a channel only once the server confirms the close,
  /// and sshd confirms only when the command has ended: a channel abandoned while its command
  /// still runs is left to finish closing in the background (`reapClosingChannels`).
  func release(_ channel: ChannelHandle) async {
    guard !channel.freed else { return }
    if failure == nil {
      let operation = newOperation()
      let deadline = ContinuousClock.now + .seconds(5)
      do {
        while true {
          let generation = loop.generation(token)
          if case .done(let rc) = try attempt(operation, { libssh2_channel_close(channel.raw) }) {
            if rc < 0 { _ = error(for: rc, "closing a channel") }
            break
          }
          if sendOwner != operation {
            // Our close request is out; only the server's answer is missing.
            closingChannels.append(channel)
            return
          }
          try await waitForSocket(operation, generation: generation, until: deadline, cancellable: false)
        }
        if failure == nil {
          _ = try await drive(until: deadline, cancellable: false) { libssh2_channel_free(channel.raw) }
          channel.freed = true
          return
        }
      } catch {
        abandon(operation)
        fail(
          .connectionLost(
            host: target.name, during: "closing a channel",
            reason: "the server did not take the request within 5s"))
      }
    }
    // The socket is shut down now, so libssh2 cannot wait for anything: this frees at once.
    libssh2_channel_free(channel.raw)
    channel.freed = true
  }

  /// Frees the channels whose close the server has confirmed since.
  func reapClosingChannels() {
    guard !closingChannels.isEmpty, failure == nil else { return }
    let operation = newOperation()
    closingChannels.removeAll { channel in
      // An error here is the session's own failure, which `fail` records and reports; the
      // channel stays listed and is freed with the session.
      guard case .done = (try? attempt(operation, { libssh2_channel_close(channel.raw) })) ?? .again,
        case .done(let rc) = (try? attempt(operation, { libssh2_channel_free(channel.raw) })) ?? .again,
        rc == 0
      else { return false }
      channel.freed = true
      return true
    }
  }

  // MARK: Keepalive

  private func startKeepalive() {
    let seconds = target.keepaliveInterval.components.seconds
    guard seconds > 0 else { return }
    libssh2_keepalive_config(handle.raw, 1, UInt32(clamping: seconds))
    keepalive = Task { [weak self] in
      while true {
        do { try await Task.sleep(for: .seconds(seconds)) } catch { return }
        guard let self, await self.sendKeepaliveIfIdle() else { return }
      }
    }
  }

  /// Sends a keepalive when nothing arrived for a whole interval. libssh2 keeps no state to
  /// finish a half-sent keepalive, so it is only sent when nothing else is pending; if even then
  /// it cannot be sent, the connection is stalled and given up.
  private func sendKeepaliveIfIdle() -> Bool {
    guard failure == nil, !closing else { return false }
    guard sendOwner == nil, ContinuousClock.now - lastTraffic >= target.keepaliveInterval,
      libssh2_session_block_directions(handle.raw) & LIBSSH2_SESSION_BLOCK_OUTBOUND == 0
    else { return true }
    var next: Int32 = 0
    let rc = libssh2_keepalive_send(handle.raw, &next)
    if libssh2_session_block_directions(handle.raw) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 {
      fail(
        .connectionLost(
          host: target.name, during: "sending a keepalive",
          reason: "the connection is stalled: nothing can be sent"))
      return false
    }
    if rc < 0 {
      _ = error(for: rc, "sending a keepalive")
      return failure == nil
    }
    return true
  }
}
