import CLibSSH2
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// libssh2's global state, initialised once, on first use.
enum LibSSH2 {
  static let initialized: Bool = libssh2_init(0) == 0
}

// Each C handle has one owner that frees it in `deinit` and keeps its parent alive. They are
// used only from their session's actor, which is why they may be marked Sendable.

/// Owns a `LIBSSH2_SESSION` and the socket under it.
final class SessionHandle: @unchecked Sendable {
  let raw: OpaquePointer
  let socket: SocketHandle
  private let counters: UnsafeMutablePointer<dc_session_counters>

  init?(socket: SocketHandle) {
    guard LibSSH2.initialized else { return nil }
    counters = .allocate(capacity: 1)
    counters.initialize(to: dc_session_counters(received: 0))
    guard let raw = dc_libssh2_session_init_counting(counters) else {
      counters.deallocate()
      return nil
    }
    self.raw = raw
    self.socket = socket
    libssh2_session_set_blocking(raw, 0)
  }

  /// Bytes read from the socket so far.
  var received: UInt64 { counters.pointee.received }

  var lastError: String { String(cString: dc_libssh2_last_error_message(raw)) }
  var lastErrno: Int32 { libssh2_session_last_errno(raw) }

  deinit {
    // With the socket shut down, anything libssh2 still wants to send fails at once instead of
    // returning EAGAIN, so freeing never stops half-way.
    socket.shutdown()
    libssh2_session_free(raw)
    counters.deallocate()
  }
}

/// Owns a `LIBSSH2_CHANNEL`; keeps its session alive.
final class ChannelHandle: @unchecked Sendable {
  let raw: OpaquePointer
  let session: SessionHandle
  var freed = false

  init(_ raw: OpaquePointer, session: SessionHandle) {
    self.raw = raw
    self.session = session
  }

  deinit {
    if !freed { libssh2_channel_free(raw) }
  }
}

/// Owns a `LIBSSH2_AGENT` connection; keeps its session alive.
final class AgentHandle {
  let raw: OpaquePointer
  let session: SessionHandle
  private var connected = false

  init?(session: SessionHandle) {
    guard let raw = libssh2_agent_init(session.raw) else { return nil }
    self.raw = raw
    self.session = session
  }

  /// Connects to the agent's Unix socket (local and quick, so done in place).
  func connect(socket: String?) -> Int32 {
    if let socket { libssh2_agent_set_identity_path(raw, socket) }
    let rc = libssh2_agent_connect(raw)
    connected = rc == 0
    return rc
  }

  /// The agent's keys, each with the comment that names it.
  func identities() -> [(UnsafeMutablePointer<libssh2_agent_publickey>, String)] {
    guard libssh2_agent_list_identities(raw) == 0 else { return [] }
    var result: [(UnsafeMutablePointer<libssh2_agent_publickey>, String)] = []
    var previous: UnsafeMutablePointer<libssh2_agent_publickey>?
    while true {
      var next: UnsafeMutablePointer<libssh2_agent_publickey>?
      guard libssh2_agent_get_identity(raw, &next, previous) == 0, let identity = next else { break }
      let comment = identity.pointee.comment.map { String(cString: $0) } ?? ""
      result.append((identity, comment))
      previous = identity
    }
    return result
  }

  deinit {
    if connected { libssh2_agent_disconnect(raw) }
    libssh2_agent_free(raw)
  }
}
