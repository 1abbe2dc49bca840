/// Ports as plans write them: `8080:80`, `127.0.0.1:8080:80`, `8080:80/udp`, `[::1]:8080:80`.
/// A bare port (`8080` or `"8080"`) publishes the container port on the same host port: a
/// deploy needs an address that stays put, so there is no random host port.
extension PortMapping {
  public init(parsing text: String) throws(ValueError) {
    let example = "write `HOST:CONTAINER` (`8080:80`), `IP:HOST:CONTAINER` or add `/udp`"
    var spec = Substring(text)
    var proto = PortProtocol.tcp
    if let slash = spec.lastIndex(of: "/") {
      guard let p = PortProtocol(rawValue: String(spec[spec.index(after: slash)...])) else {
        throw ValueError("`\(text)`: the protocol must be `tcp`, `udp` or `sctp`")
      }
      proto = p
      spec = spec[..<slash]
    }
    var ip: String?
    if spec.first == "[" {
      guard let close = spec.firstIndex(of: "]"), spec[spec.index(after: close)...].first == ":" else {
        throw ValueError("`\(text)`: an IPv6 address is written `[::1]:8080:80`")
      }
      let address = String(spec[spec.index(after: spec.startIndex)..<close])
      guard !address.isEmpty, address.utf8.allSatisfy(Self.isIPv6Character) else {
        throw ValueError("`\(text)`: `\(address)` is not an IPv6 address")
      }
      ip = address
      spec = spec[spec.index(close, offsetBy: 2)...]
    }
    let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
    if parts.contains(where: { $0.contains("-") }) {
      throw ValueError("`\(text)`: port ranges are not supported; list each port")
    }
    let host: Substring
    let container: Substring
    switch (parts.count, ip) {
    case (1, nil):
      (host, container) = (parts[0], parts[0])
    case (2, _):
      (host, container) = (parts[0], parts[1])
    case (3, nil):
      let address = String(parts[0])
      let octets = address.split(separator: ".", omittingEmptySubsequences: false)
      guard octets.count == 4, octets.allSatisfy({ Names.integer($0).map { $0 <= 255 } ?? false }) else {
        throw ValueError("`\(text)`: `\(address)` is not an IPv4 address (IPv6 goes in brackets: `[::1]`)")
      }
      ip = address
      (host, container) = (parts[1], parts[2])
    default:
      throw ValueError("`\(text)` is not a port mapping; \(example)")
    }
    if host.isEmpty && !container.isEmpty {
      throw ValueError(
        "`\(text)`: give the host port (`8080:80`); a random host port cannot be health-checked")
    }
    guard let h = Self.port(host), let c = Self.port(container) else {
      throw ValueError("`\(text)` is not a port mapping: ports are numbers from 1 to 65535; \(example)")
    }
    self.init(hostIP: ip, hostPort: h, containerPort: c, proto: proto)
  }

  static func port(_ s: Substring) -> Int? {
    guard let n = Names.integer(s), (1...65535).contains(n) else { return nil }
    return n
  }

  private static func isIPv6Character(_ b: UInt8) -> Bool {
    Names.isDigit(b) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(b)
      || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(b) || b == UInt8(ascii: ":")
      || b == UInt8(ascii: ".")
  }
}
