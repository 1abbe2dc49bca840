import CLibSSH2
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A local port on 127.0.0.1 whose connections are carried over SSH to a port on the host
/// (`ssh -L`), so a health check reaches a port the host does not open to the network.
public final class PortForward: Sendable {
  /// Connect here (127.0.0.1:localPort) to reach `remoteHost:remotePort` as seen from the host.
  public let localPort: Int
  public let remoteHost: String
  public let remotePort: Int
  private let task: Task<Void, Never>
  private let errors: ForwardErrors

  init(localPort: Int, remoteHost: String, remotePort: Int, task: Task<Void, Never>, errors: ForwardErrors) {
    self.localPort = localPort
    self.remoteHost = remoteHost
    self.remotePort = remotePort
    self.task = task
    self.errors = errors
  }

  /// Why the last forwarded connection could not be opened (e.g. nothing listens on the host's
  /// port), for messages: the local client only sees its connection closed.
  public var lastError: SSHError? { errors.last }

  /// Stops listening and closes every forwarded connection.
  public func close() async {
    task.cancel()
    await task.value
  }

  deinit { task.cancel() }
}

final class ForwardErrors: @unchecked Sendable {
  private let lock = NSLock()
  private var error: SSHError?

  var last: SSHError? { lock.withLock { error } }
  func record(_ error: SSHError) { lock.withLock { self.error = error } }
}

/// The relay that carries a target's SSH connection through its jump host.
final class JumpTunnel: Sendable {
  let jump: SSHSession
  let relay: Task<Void, Never>
  /// Whether the jump session was made for this target alone (and ends with it).
  let ownsJump: Bool

  init(jump: SSHSession, relay: Task<Void, Never>, ownsJump: Bool) {
    self.jump = jump
    self.relay = relay
    self.ownsJump = ownsJump
  }

  func close() async {
    relay.cancel()
    await relay.value
    if ownsJump { await jump.close() }
  }

  deinit { relay.cancel() }
}

extension SSHSession {
  /// Listens on 127.0.0.1 at a free port and carries each connection to `remoteHost:remotePort`
  /// as seen from the host (a direct-tcpip channel per connection). Ends with `close()` on the
  /// forward or on the session.
  public func forward(remotePort: Int, remoteHost: String = "127.0.0.1") throws -> PortForward {
    try ensureUsable()
    let listener: SocketHandle
    let localPort: Int
    do {
      (listener, localPort) = try Sockets.listenOnLoopback()
    } catch {
      throw SSHError.forwardFailed(
        host: target.name, destination: "\(remoteHost):\(remotePort)",
        reason: "cannot listen on 127.0.0.1: \(error)")
    }
    let errors = ForwardErrors()
    let id = newOperation()
    let task = Task { await self.serve(listener, to: remoteHost, port: remotePort, errors: errors) }
    forwards[id] = task
    return PortForward(
      localPort: localPort, remoteHost: remoteHost, remotePort: remotePort, task: task, errors: errors)
  }

  private func serve(_ listener: SocketHandle, to host: String, port: Int, errors: ForwardErrors) async {
    await withDiscardingTaskGroup { group in
      while !Task.isCancelled {
        do {
          _ = try await loop.wait(for: [.readable(listener.fd)], until: nil)
        } catch {
          break
        }
        while let connection = Sockets.accept(listener) {
          group.addTask { await self.forwardConnection(connection, to: host, port: port, errors: errors) }
        }
      }
      group.cancelAll()
    }
  }

  private func forwardConnection(
    _ connection: SocketHandle, to host: String, port: Int, errors: ForwardErrors
  ) async {
    let raw = handle.raw
    do {
      let channel = try await openChannel(
        until: .now + target.connectTimeout, request: "a port forward to \(host):\(port)"
      ) { dc_libssh2_channel_direct_tcpip_from(raw, host, Int32(port), "127.0.0.1", 0) }
      await relay(channel, peer: connection)
    } catch let error as SSHError {
      if case .channelRefused(_, _, let reason) = error {
        errors.record(.forwardFailed(host: target.name, destination: "\(host):\(port)", reason: reason))
      } else {
        errors.record(error)
      }
    } catch {
      // Cancelled: the forward is closing.
    }
  }

  /// Opens a direct-tcpip channel from this (jump) session to `target` and relays it to one end
  /// of a socket pair; the other end is the socket the target's own SSH session runs on.
  func openTunnel(for target: SSHTarget, ownsJump: Bool) async throws -> (SocketHandle, JumpTunnel) {
    let jumpName = self.target.name
    let destination = "\(target.address):\(target.port)"
    let raw = handle.raw
    let channel: ChannelHandle
    do {
      channel = try await openChannel(
        until: .now + target.connectTimeout, request: "a connection to \(destination)"
      ) { dc_libssh2_channel_direct_tcpip_from(raw, target.address, Int32(target.port), "127.0.0.1", 0) }
    } catch is DeadlineExceeded {
      throw SSHError.jumpFailed(
        host: target.name, jump: jumpName,
        underlying: .timedOut(
          host: jumpName, endpoint: destination, phase: .connect, after: target.connectTimeout))
    } catch let error as SSHError {
      if case .channelRefused(_, _, let reason) = error {
        throw SSHError.tunnelRefused(
          host: target.name, jump: jumpName, destination: destination, reason: reason)
      }
      throw SSHError.jumpFailed(host: target.name, jump: jumpName, underlying: error)
    }
    let (mine, theirs) = try Sockets.pair()
    let relay = Task { await self.relay(channel, peer: mine) }
    return (theirs, JumpTunnel(jump: self, relay: relay, ownsJump: ownsJump))
  }

  /// Copies bytes both ways between a channel and a local socket until both sides have ended,
  /// then closes the channel. Half-closes are passed on (EOF one way, data still the other).
  func relay(_ channel: ChannelHandle, peer: SocketHandle) async {
    var relay = Relay(channel: channel.raw, peer: peer, operation: newOperation())
    defer {
      relay.inbound.base.deallocate()
      relay.outbound.base.deallocate()
    }
    while !Task.isCancelled {
      let generation = loop.generation(token)
      var turn = RelayTurn()
      do {
        try forwardToChannel(&relay, &turn)
        guard try forwardToPeer(&relay, &turn) else { break }  // the local side is gone
        if relay.channelEOF && !relay.outbound.pending && relay.eofSent { break }
        if !turn.progressed {
          try await waitForSocket(
            relay.operation, generation: generation, until: nil, includeSession: turn.waitOnSession,
            extra: turn.peerEvents == 0 ? [] : [.init(fd: peer.fd, events: turn.peerEvents)])
        }
      } catch {
        break
      }
    }
    abandon(relay.operation)
    peer.shutdown()
    await release(channel)
  }

  /// Local socket → channel: writes what was read, else passes the socket's end on as EOF, else
  /// reads more.
  private func forwardToChannel(_ relay: inout Relay, _ turn: inout RelayTurn) throws {
    let ch = relay.channel
    if relay.inbound.pending {
      let (base, start, end) = (relay.inbound.base, relay.inbound.start, relay.inbound.end)
      switch try attempt(
        relay.operation,
        { dc_libssh2_channel_write(ch, base.assumingMemoryBound(to: CChar.self) + start, end - start) })
      {
      case .done(let n):
        try check(n, "forwarding data")
        relay.inbound.consume(n)
        turn.progressed = true
      case .again:
        turn.waitOnSession = true
      }
    } else if relay.peerEOF {
      guard !relay.eofSent else { return }
      switch try attempt(relay.operation, { libssh2_channel_send_eof(ch) }) {
      case .done:
        relay.eofSent = true
        turn.progressed = true
      case .again:
        turn.waitOnSession = true
      }
    } else {
      let n = recv(relay.peer.fd, relay.inbound.base, RelayBuffer.size, 0)
      if n > 0 {
        relay.inbound.end = n
        turn.progressed = true
      } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
        relay.peerEOF = true
        turn.progressed = true
      } else {
        turn.peerEvents |= Int16(POLLIN)
      }
    }
  }

  /// Channel → local socket: writes what was read, else reads more. Returns false once the local
  /// side is gone.
  private func forwardToPeer(_ relay: inout Relay, _ turn: inout RelayTurn) throws -> Bool {
    if relay.outbound.pending {
      let pending = relay.outbound.end - relay.outbound.start
      let n = send(relay.peer.fd, relay.outbound.base + relay.outbound.start, pending, Int32(MSG_NOSIGNAL))
      if n > 0 {
        relay.outbound.consume(n)
        turn.progressed = true
      } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
        turn.peerEvents |= Int16(POLLOUT)
      } else {
        return false
      }
    } else if !relay.channelEOF && sendOwner != relay.operation {
      try readChannel(&relay, &turn)
    }
    return true
  }

  /// One read from the channel; its end shuts the local socket's writing side.
  private func readChannel(_ relay: inout Relay, _ turn: inout RelayTurn) throws {
    let (ch, base) = (relay.channel, relay.outbound.base)
    switch try attempt(
      relay.operation,
      { dc_libssh2_channel_read(ch, base.assumingMemoryBound(to: CChar.self), RelayBuffer.size) })
    {
    case .done(let n) where n > 0:
      relay.outbound.end = n
      turn.progressed = true
    case .done(0):
      if libssh2_channel_eof(ch) != 0 {
        relay.channelEOF = true
        _ = Glibc.shutdown(relay.peer.fd, Int32(SHUT_WR))
        turn.progressed = true
      } else {
        turn.waitOnSession = true
      }
    case .done(let n):
      try check(n, "forwarding data")
    case .again:
      turn.waitOnSession = true
    }
  }
}

/// Bytes read on one side of a relay and not yet written to the other.
private struct RelayBuffer {
  static let size = 32 * 1024

  let base = UnsafeMutableRawPointer.allocate(byteCount: RelayBuffer.size, alignment: 16)
  var start = 0
  var end = 0

  var pending: Bool { start < end }

  mutating func consume(_ count: Int) {
    start += count
    if start == end { (start, end) = (0, 0) }
  }
}

/// A relay between turns: what each direction holds and which ends have ended.
private struct Relay {
  let channel: OpaquePointer
  let peer: SocketHandle
  let operation: UInt64
  /// Local socket → channel.
  var inbound = RelayBuffer()
  /// Channel → local socket.
  var outbound = RelayBuffer()
  var peerEOF = false
  var eofSent = false
  var channelEOF = false
}

/// What one turn of a relay did, and what to wait for if it did nothing.
private struct RelayTurn {
  var progressed = false
  var waitOnSession = false
  var peerEvents: Int16 = 0
}
