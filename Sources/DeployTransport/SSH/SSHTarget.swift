import DeployConfig
import Foundation

/// How a client proves who it is.
public enum SSHIdentity: Sendable, Hashable, CustomStringConvertible {
  /// A private key file (OpenSSH or PEM format: ed25519, ECDSA, RSA). If it is encrypted, its
  /// passphrase comes from the environment variable `DEPLOYCTL_SSH_PASSPHRASE`.
  case file(String)
  /// The keys of a running ssh-agent: at `socket`, or at `$SSH_AUTH_SOCK` when nil.
  case agent(socket: String? = nil)

  public var description: String {
    switch self {
    case .file(let path): path
    case .agent(let socket): "ssh-agent" + (socket.map { " at \($0)" } ?? "")
    }
  }
}

/// A host we reach over SSH: independent of the inventory model, which maps onto it.
public struct SSHTarget: Sendable, Hashable {
  /// The host's name in the inventory; every message about this host starts with it.
  public var name: String
  /// DNS name or IP address to connect to, also the name looked up in known_hosts.
  public var address: String
  public var port: Int
  public var user: String
  public var identity: SSHIdentity
  public var knownHostsFile: String
  public var hostKeyPolicy: HostKeyPolicy
  /// Bounds each of: TCP connect, SSH handshake, authentication.
  public var connectTimeout: Duration
  /// A keepalive is sent when the connection has been quiet this long (0: never).
  public var keepaliveInterval: Duration
  /// ProxyJump: reach this host through another SSH server.
  public var jump: SSHJump?

  public init(
    name: String, address: String, port: Int = 22, user: String, identity: SSHIdentity = .agent(),
    knownHostsFile: String = SSHTarget.defaultKnownHostsFile, hostKeyPolicy: HostKeyPolicy = .strict,
    connectTimeout: Duration = .seconds(10), keepaliveInterval: Duration = .seconds(15), jump: SSHJump? = nil
  ) {
    self.name = name
    self.address = address
    self.port = port
    self.user = user
    self.identity = identity
    self.knownHostsFile = knownHostsFile
    self.hostKeyPolicy = hostKeyPolicy
    self.connectTimeout = connectTimeout
    self.keepaliveInterval = keepaliveInterval
    self.jump = jump
  }

  public static var defaultKnownHostsFile: String {
    (ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()) + "/.ssh/known_hosts"
  }

  /// `user@address:port`, as people write it.
  public var endpoint: String {
    let host = address.contains(":") ? "[\(address)]" : address
    return "\(user)@\(host):\(port)"
  }

  /// The name OpenSSH files this host's key under in known_hosts.
  var knownHostsName: String {
    port == 22 ? address : "[\(address)]:\(port)"
  }
}

/// The jump host (bastion) in front of a target. Its key is checked like any other host's.
public struct SSHJump: Sendable, Hashable {
  public var address: String
  public var port: Int
  public var user: String
  public var identity: SSHIdentity
  public var knownHostsFile: String
  public var hostKeyPolicy: HostKeyPolicy
  public var connectTimeout: Duration

  public init(
    address: String, port: Int = 22, user: String, identity: SSHIdentity = .agent(),
    knownHostsFile: String = SSHTarget.defaultKnownHostsFile, hostKeyPolicy: HostKeyPolicy = .strict,
    connectTimeout: Duration = .seconds(10)
  ) {
    self.address = address
    self.port = port
    self.user = user
    self.identity = identity
    self.knownHostsFile = knownHostsFile
    self.hostKeyPolicy = hostKeyPolicy
    self.connectTimeout = connectTimeout
  }

  /// The jump host as a target of its own (named after its endpoint).
  var target: SSHTarget {
    SSHTarget(
      name: "\(user)@\(address):\(port)", address: address, port: port, user: user, identity: identity,
      knownHostsFile: knownHostsFile, hostKeyPolicy: hostKeyPolicy, connectTimeout: connectTimeout)
  }
}
