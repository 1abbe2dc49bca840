import DeployConfig
import DeployTransport

/// How a check (health, status probe, verification) reaches a published port: straight from
/// here at the host's address (`via: direct`), or through a port forward over the SSH
/// connection to `remoteHost:port` on the far side (`via: ssh`).
extension HealthSpec.Via {
  /// The URL of `path` on `port`, and the forward opened for it, if any (the caller closes it).
  func reach(
    _ port: Int, path: String = "", address: String, remoteHost: String,
    forward: (_ port: Int, _ host: String) async throws -> PortForward
  ) async throws -> (url: String, forward: PortForward?) {
    switch self {
    case .direct:
      return (HTTPProbe.url(host: address, port: port, path: path), nil)
    case .ssh:
      let opened = try await forward(port, remoteHost)
      return (HTTPProbe.url(host: "127.0.0.1", port: opened.localPort, path: path), opened)
    }
  }

  /// `reach` for one use: `body` gets the URL, and the forward opened for it, if any, is closed
  /// when `body` ends, also when it throws.
  func reaching<T: Sendable>(
    _ port: Int, path: String = "", address: String, remoteHost: String,
    forward: (_ port: Int, _ host: String) async throws -> PortForward,
    _ body: (_ url: String) async throws -> T
  ) async throws -> T {
    let (url, opened) = try await reach(
      port, path: path, address: address, remoteHost: remoteHost, forward: forward)
    do {
      let value = try await body(url)
      await opened?.close()
      return value
    } catch {
      await opened?.close()
      throw error
    }
  }
}

extension PortMapping {
  /// Where `port`, as published on its host, answers there: the address it is bound to, else
  /// loopback.
  static func boundAddress(of port: Int, in ports: [PortMapping]) -> String {
    guard let bound = ports.first(where: { $0.hostPort == port })?.hostIP, bound != "0.0.0.0", bound != "::"
    else { return "127.0.0.1" }
    return bound
  }
}
