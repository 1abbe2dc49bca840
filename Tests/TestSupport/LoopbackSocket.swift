import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A TCP socket on 127.0.0.1 with a kernel-chosen port. `listening`: connections complete (the
/// kernel accepts them into the backlog) but nobody ever reads or answers, the "server that
/// accepts but never answers". Not listening: the port is held but refuses connections.
public final class LoopbackSocket: @unchecked Sendable {
  public let fd: Int32
  public let port: Int

  public init(listening: Bool) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
    do {
      port = try bindLoopback(fd)
      if listening, listen(fd, 64) != 0 {
        throw TestSupportError("listen: \(String(cString: strerror(errno)))")
      }
    } catch {
      close(fd)
      throw error
    }
  }

  public var url: String { "http://127.0.0.1:\(port)/healthz" }

  deinit { close(fd) }
}

private func bindLoopback(_ fd: Int32) throws -> Int {
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = 0
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  let bound = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
  }
  guard bound == 0 else { throw TestSupportError("bind: \(String(cString: strerror(errno)))") }
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let named = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
  }
  guard named == 0 else { throw TestSupportError("getsockname: \(String(cString: strerror(errno)))") }
  return Int(UInt16(bigEndian: address.sin_port))
}
