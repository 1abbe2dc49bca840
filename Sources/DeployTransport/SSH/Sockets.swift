import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Owns one socket descriptor and closes it in `deinit`.
final class SocketHandle: @unchecked Sendable {
  let fd: Int32

  init(_ fd: Int32) { self.fd = fd }

  deinit { Glibc.close(fd) }

  /// Stops traffic both ways now, even if other owners still hold the descriptor.
  func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
}

struct SocketAddress: Sendable, CustomStringConvertible {
  var storage: sockaddr_storage
  var length: socklen_t

  var description: String {
    var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
    var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
    var copy = storage
    let rc = withUnsafePointer(to: &copy) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        getnameinfo(
          $0, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
          NI_NUMERICHOST | NI_NUMERICSERV)
      }
    }
    guard rc == 0 else { return "?" }
    let h = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let s = String(decoding: service.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return storage.ss_family == sa_family_t(AF_INET6) ? "[\(h)]:\(s)" : "\(h):\(s)"
  }
}

/// Why a TCP connection could not be made, before any host name is attached.
enum ConnectFailure: Error, Sendable {
  case notResolved(String)
  case refused(String)
  case unreachable(String, String)
  case timedOut(String)
}

enum Sockets {
  /// Host names are looked up on a thread of their own (getaddrinfo blocks); numeric addresses
  /// need no lookup. Names under `.invalid` never resolve (RFC 6761 §6.4) and are answered here,
  /// without asking a DNS server.
  static func resolve(_ host: String, port: Int) async throws(ConnectFailure) -> [SocketAddress] {
    if case .success(let addresses) = lookup(host, port: port, numericOnly: true) {
      return addresses
    }
    let lowered = host.lowercased()
    if lowered == "invalid" || lowered.hasSuffix(".invalid") || lowered.hasSuffix(".invalid.") {
      throw .notResolved("\(host) is under .invalid, which never resolves (RFC 6761)")
    }
    let result = await withCheckedContinuation { continuation in
      let thread = Thread { continuation.resume(returning: lookup(host, port: port, numericOnly: false)) }
      thread.name = "deployctl-resolve"
      thread.start()
    }
    return try result.get()
  }

  private static func lookup(_ host: String, port: Int, numericOnly: Bool) -> Result<
    [SocketAddress], ConnectFailure
  > {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = numericOnly ? AI_NUMERICHOST | AI_NUMERICSERV : AI_NUMERICSERV
    var list: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(host, String(port), &hints, &list)
    guard rc == 0, let first = list else {
      let reason = rc == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(rc))
      return .failure(.notResolved(reason))
    }
    defer { freeaddrinfo(list) }
    var addresses: [SocketAddress] = []
    var cursor: UnsafeMutablePointer<addrinfo>? = first
    while let info = cursor {
      var storage = sockaddr_storage()
      withUnsafeMutableBytes(of: &storage) { raw in
        raw.copyMemory(
          from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen)))
      }
      addresses.append(SocketAddress(storage: storage, length: info.pointee.ai_addrlen))
      cursor = info.pointee.ai_next
    }
    return .success(addresses)
  }

  /// Non-blocking connect to each address in turn until one answers or `deadline` passes.
  static func connect(to addresses: [SocketAddress], until deadline: ContinuousClock.Instant)
    async throws -> SocketHandle
  {
    _ = DescriptorLimit.raised
    var lastFailure = ConnectFailure.notResolved("no addresses")
    for address in addresses {
      let fd = socket(
        Int32(address.storage.ss_family),
        Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
          | Int32(SOCK_CLOEXEC.rawValue), 0)
      guard fd >= 0 else {
        lastFailure = .unreachable(address.description, String(cString: strerror(errno)))
        continue
      }
      let socket = SocketHandle(fd)
      var one: Int32 = 1
      _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
      // A host that vanishes (link cut, machine gone) answers nothing and TCP would retransmit
      // for many minutes. With data unacknowledged for this long (SSH keepalives make sure
      // there is some), the kernel ends the connection and we report it lost.
      var userTimeout = Int32(20_000)
      _ = setsockopt(
        fd, Int32(IPPROTO_TCP), 18 /* TCP_USER_TIMEOUT */, &userTimeout, socklen_t(MemoryLayout<Int32>.size))
      var storage = address.storage
      let rc = withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, address.length) }
      }
      var error: Int32 = rc == 0 ? 0 : errno
      if rc != 0 && error == EINPROGRESS {
        let wake = try await EventLoop.shared.wait(for: [.writable(fd)], until: deadline)
        if wake == .timedOut {
          throw ConnectFailure.timedOut(address.description)
        }
        var length = socklen_t(MemoryLayout<Int32>.size)
        error = 0
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
      }
      switch error {
      case 0:
        return socket
      case ECONNREFUSED:
        lastFailure = .refused(address.description)
      default:
        lastFailure = .unreachable(address.description, String(cString: strerror(error)))
      }
    }
    throw lastFailure
  }

  /// Two connected, non-blocking stream sockets (the jump host's tunnel: libssh2 needs a socket).
  static func pair() throws -> (SocketHandle, SocketHandle) {
    var fds: [Int32] = [-1, -1]
    let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    guard socketpair(AF_UNIX, type, 0, &fds) == 0 else {
      throw ConnectFailure.unreachable("socketpair", String(cString: strerror(errno)))
    }
    return (SocketHandle(fds[0]), SocketHandle(fds[1]))
  }

  /// A listening socket on 127.0.0.1 at a port the kernel picks.
  static func listenOnLoopback() throws -> (SocketHandle, Int) {
    let fd = socket(
      AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw ConnectFailure.unreachable("127.0.0.1", String(cString: strerror(errno))) }
    let socket = SocketHandle(fd)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
        bind(fd, pointer, length) == 0 && listen(fd, 128) == 0 && getsockname(fd, pointer, &length) == 0
      }
    }
    guard bound else { throw ConnectFailure.unreachable("127.0.0.1", String(cString: strerror(errno))) }
    return (socket, Int(UInt16(bigEndian: address.sin_port)))
  }

  static func accept(_ listener: SocketHandle) -> SocketHandle? {
    let fd = Glibc.accept(listener.fd, nil, nil)
    guard fd >= 0 else { return nil }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    return SocketHandle(fd)
  }
}

/// A run holds one socket per host until it ends, so a fan-out to 1,000 hosts needs more file
/// descriptors than the usual soft limit of 1,024 (hosts past it failed with "Too many open
/// files"). Before the first connect the soft limit is raised once, up to the hard limit (at
/// most 65,536), as Go programs do; descriptors are waited on with poll, which has no
/// FD_SETSIZE bound.
enum DescriptorLimit {
  static let raised: Bool = {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return false }
    let wanted = min(limit.rlim_max, 65_536)
    guard limit.rlim_cur < wanted else { return true }
    limit.rlim_cur = wanted
    return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0
  }()
}
