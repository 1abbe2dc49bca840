/// An SSH jump host (`ssh.jump`): `[user@]host[:port]`, IPv6 as `[::1]:22`.
public struct JumpHost: Sendable, Hashable, CustomStringConvertible {
  /// nil: the same user as the target host.
  public var user: String?
  public var host: String
  public var port: Int

  public init(user: String?, host: String, port: Int = 22) {
    self.user = user
    self.host = host
    self.port = port
  }

  public init(parsing text: String) throws(ValueError) {
    let example = "write `host`, `user@host` or `user@host:2222`"
    var rest = Substring(text)
    var user: String?
    if let at = rest.firstIndex(of: "@") {
      let name = String(rest[..<at])
      rest = rest[rest.index(after: at)...]
      guard Names.isUserName(name) else {
        throw ValueError("`\(text)`: `\(name)` is not a user name; \(example)")
      }
      user = name
    }
    var host = rest
    var port = 22
    if rest.first == "[" {
      guard let close = rest.firstIndex(of: "]") else {
        throw ValueError("`\(text)`: missing `]`; \(example)")
      }
      host = rest[rest.index(after: rest.startIndex)..<close]
      let after = rest[rest.index(after: close)...]
      if !after.isEmpty {
        guard after.first == ":", let p = PortMapping.port(after.dropFirst()) else {
          throw ValueError("`\(text)`: the port must be a number from 1 to 65535; \(example)")
        }
        port = p
      }
    } else if let colon = rest.lastIndex(of: ":") {
      host = rest[..<colon]
      guard let p = PortMapping.port(rest[rest.index(after: colon)...]) else {
        throw ValueError("`\(text)`: the port must be a number from 1 to 65535; \(example)")
      }
      port = p
    }
    guard !host.isEmpty, Names.isAddress(String(host)) else {
      throw ValueError("`\(text)`: `\(host)` is not a host name or address; \(example)")
    }
    self.init(user: user, host: String(host), port: port)
  }

  public var description: String {
    (user.map { "\($0)@" } ?? "") + (host.contains(":") ? "[\(host)]" : host) + (port == 22 ? "" : ":\(port)")
  }
}
