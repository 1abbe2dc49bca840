/// `registry:` of a plan: how hosts log in to a private registry for every pull
/// (docs/configuration.md "Private registry"). Only names of secrets are kept here; their
/// values come from deployctl's own environment when a command runs.
public struct RegistrySpec: Sendable, Hashable {
  /// `host[:port]`; nil: the registry host of `image` (Docker Hub when it names none).
  public var server: String?
  public enum Username: Sendable, Hashable {
    case literal(String)
    /// The name of a variable in deployctl's environment.
    case secret(String)
  }
  public var username: Username
  /// The name of the variable in deployctl's environment holding the password or token.
  public var passwordSecret: String

  public init(server: String? = nil, username: Username, passwordSecret: String) {
    self.server = server
    self.username = username
    self.passwordSecret = passwordSecret
  }

  /// The names of the secrets it needs.
  public var secretNames: [String] {
    var names = [passwordSecret]
    if case .secret(let name) = username, name != passwordSecret { names.insert(name, at: 0) }
    return names
  }
}

/// Credentials for one run's pulls. The password is never printed, logged or put on a command line.
public struct RegistryLogin: Sendable, Equatable, CustomStringConvertible {
  public var server: String
  public var username: String
  public var password: String

  public init(server: String, username: String, password: String) {
    self.server = server
    self.username = username
    self.password = password
  }

  public var description: String { "\(username)@\(server)" }
}
