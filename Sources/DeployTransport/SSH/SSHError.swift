import DeployConfig
import Foundation

/// A host key as OpenSSH shows it: `ED25519 key fingerprint is SHA256:…`.
public struct HostKeyFingerprint: Sendable, Hashable, CustomStringConvertible {
  /// The key's algorithm name as in known_hosts, e.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`.
  public var algorithm: String
  /// `SHA256:` followed by the unpadded base64 of the SHA-256 digest of the key blob, exactly
  /// as `ssh-keygen -lf` prints it.
  public var sha256: String

  public init(algorithm: String, sha256: String) {
    self.algorithm = algorithm
    self.sha256 = sha256
  }

  /// OpenSSH's short name for the key type: `ED25519`, `ECDSA`, `RSA`.
  public var typeName: String {
    switch algorithm {
    case "ssh-ed25519": "ED25519"
    case let name where name.hasPrefix("ecdsa-"): "ECDSA"
    case "ssh-rsa": "RSA"
    case "ssh-dss": "DSA"
    default: algorithm
    }
  }

  /// The `-t` argument of ssh-keyscan for this key.
  var keyscanType: String {
    switch typeName {
    case "ED25519": "ed25519"
    case "ECDSA": "ecdsa"
    case "RSA": "rsa"
    default: algorithm
    }
  }

  public var description: String { "\(typeName) key fingerprint is \(sha256)" }
}

/// Everything that can go wrong talking SSH to one host. Each message starts with the host's
/// inventory name, says what failed and what to do about it.
public indirect enum SSHError: DeployctlError, LocalizedError, Equatable {
  /// Which step of setting up a connection ran out of time.
  public enum Phase: String, Sendable {
    case connect = "TCP connect"
    case handshake = "SSH handshake"
    case authentication = "authentication"
  }

  case nameNotResolved(host: String, address: String, reason: String)
  case connectionRefused(host: String, endpoint: String)
  case unreachable(host: String, endpoint: String, reason: String)
  case timedOut(host: String, endpoint: String, phase: Phase, after: Duration)
  case handshakeFailed(host: String, endpoint: String, reason: String)
  case hostKeyUnknown(
    host: String, knownHostsName: String, key: HostKeyFingerprint, knownHostsFile: String,
    keyscan: String)
  case hostKeyChanged(host: String, knownHostsName: String, key: HostKeyFingerprint, knownHostsFile: String)
  case hostKeyRevoked(host: String, key: HostKeyFingerprint, knownHostsFile: String)
  case hostKeyNotRecorded(host: String, knownHostsFile: String, reason: String)
  /// `methods`: what the server accepts; `tried`: each key and why it did not work.
  case authenticationFailed(host: String, endpoint: String, methods: [String], tried: [String])
  case commandTimedOut(host: String, command: String, after: Duration)
  case connectionLost(host: String, during: String, reason: String)
  /// The command's output ended but the connection dropped before the server said how the
  /// command ended. Never treated as success.
  case noExitStatus(host: String, command: String, reason: String)
  case jumpFailed(host: String, jump: String, underlying: SSHError)
  case tunnelRefused(host: String, jump: String, destination: String, reason: String)
  case channelRefused(host: String, request: String, reason: String)
  case uploadFailed(host: String, path: String, reason: String)
  case forwardFailed(host: String, destination: String, reason: String)
  case closed(host: String)
  /// Any other libssh2 failure, with libssh2's own message.
  case library(host: String, operation: String, code: Int32, message: String)

  public var exitStatus: ExitStatus { .failedRestored }

  /// The inventory name of the host the error is about.
  public var host: String {
    switch self {
    case .nameNotResolved(let host, _, _), .connectionRefused(let host, _), .unreachable(let host, _, _),
      .timedOut(let host, _, _, _), .handshakeFailed(let host, _, _), .hostKeyUnknown(let host, _, _, _, _),
      .hostKeyChanged(let host, _, _, _), .hostKeyRevoked(let host, _, _),
      .hostKeyNotRecorded(let host, _, _),
      .authenticationFailed(let host, _, _, _), .commandTimedOut(let host, _, _),
      .connectionLost(let host, _, _), .noExitStatus(let host, _, _), .jumpFailed(let host, _, _),
      .tunnelRefused(let host, _, _, _), .channelRefused(let host, _, _), .uploadFailed(let host, _, _),
      .forwardFailed(let host, _, _), .closed(let host), .library(let host, _, _, _):
      host
    }
  }

  public var errorDescription: String? { description }

  public var description: String {
    switch self {
    case .nameNotResolved(let host, let address, let reason):
      return
        "\(host): cannot resolve '\(address)': \(reason). Check the host's address in the inventory and DNS."
    case .connectionRefused(let host, let endpoint):
      return "\(host): connection refused by \(endpoint): nothing listens there. "
        + "Check the host's address and port, and that sshd is running."
    case .unreachable(let host, let endpoint, let reason):
      return "\(host): cannot connect to \(endpoint): \(reason). Check the address and the network path."
    case .timedOut(let host, let endpoint, let phase, let after):
      let hint =
        switch phase {
        case .connect:
          "Check that the host is up and that no firewall drops the port; raise ssh.connect_timeout on a slow network."
        case .handshake:
          "The port accepted the connection but no SSH server answered: check that it is sshd's port "
            + "(and sshd's MaxStartups if many hosts connect at once)."
        case .authentication:
          "The server did not answer the login in time (an ssh-agent waiting for confirmation, or an overloaded host)."
        }
      return "\(host): timed out after \(Self.format(after)) in the \(phase.rawValue) to \(endpoint). \(hint)"
    case .handshakeFailed(let host, let endpoint, let reason):
      return
        "\(host): SSH handshake with \(endpoint) failed: \(reason). Check that the port is sshd's and that it "
        + "offers an ed25519 or ECDSA host key and curve25519/ECDH key exchange with AES-CTR."
    case .hostKeyUnknown(let host, let name, let key, let file, let keyscan):
      return """
        \(host): host key for \(name) is not known: \(key) (no entry in \(file)). Refused by host_key_policy strict.
          To trust it, compare the fingerprint with the host's own (on the host: ssh-keygen -lf /etc/ssh/ssh_host_\(key.keyscanType)_key.pub), then add it:
            \(keyscan) >> \(ShellQuote.quote(file))
          or set host_key_policy: accept-new to record it on first connect.
        """
    case .hostKeyChanged(let host, let name, let key, let file):
      return """
        \(host): HOST KEY CHANGED for \(name): the server presents \(key), which differs from the key recorded in \(file).
          Someone may be intercepting the connection, or the host was reinstalled. Refused under every host_key_policy.
          If the change is expected, remove the old key and connect again:
            ssh-keygen -R \(ShellQuote.quote(name)) -f \(ShellQuote.quote(file))
        """
    case .hostKeyRevoked(let host, let key, let file):
      return "\(host): the server presents a revoked host key: \(key) (marked @revoked in \(file)). Refused."
    case .hostKeyNotRecorded(let host, let file, let reason):
      return
        "\(host): cannot record the new host key in \(file): \(reason). Check that the file and its folder are writable."
    case .authenticationFailed(let host, let endpoint, let methods, let tried):
      let accepted = methods.isEmpty ? "(none announced)" : methods.joined(separator: ", ")
      let attempts = tried.isEmpty ? "no key" : tried.joined(separator: "; ")
      return
        "\(host): authentication failed for \(endpoint). The server accepts: \(accepted). Tried: \(attempts). "
        + "Check that the public key is in the user's ~/.ssh/authorized_keys on the host, or set ssh.identity_file "
        + "or load the key into ssh-agent."
    case .commandTimedOut(let host, let command, let after):
      return "\(host): command timed out after \(Self.format(after)): \(Self.abbreviate(command)). "
        + "Its channel was closed; the remote process may still be running."
    case .connectionLost(let host, let during, let reason):
      return "\(host): connection lost while \(during): \(reason). What ran on the host may be incomplete."
    case .noExitStatus(let host, let command, let reason):
      return "\(host): no exit status for \(Self.abbreviate(command)): the output ended but the connection "
        + "dropped before the server reported how the command ended (\(reason)). Treated as a failure."
    case .jumpFailed(let host, let jump, let underlying):
      return "\(host): via jump host \(jump): \(underlying.description)"
    case .tunnelRefused(let host, let jump, let destination, let reason):
      return "\(host): jump host \(jump) could not open a connection to \(destination): \(reason). "
        + "Check that the jump host can reach the address and that its sshd allows TCP forwarding."
    case .channelRefused(let host, let request, let reason):
      return
        "\(host): the server refused \(request): \(reason) (too many sessions on one connection? see sshd's MaxSessions)."
    case .uploadFailed(let host, let path, let reason):
      return "\(host): upload to \(path) failed: \(reason)"
    case .forwardFailed(let host, let destination, let reason):
      return
        "\(host): port forward to \(destination) failed: \(reason). Check that something listens there on the host "
        + "and that sshd allows TCP forwarding."
    case .closed(let host):
      return "\(host): the SSH session was already closed."
    case .library(let host, let operation, let code, let message):
      return "\(host): \(operation) failed: \(message) (libssh2 error \(code))."
    }
  }

  static func format(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    if ms % 1000 == 0 { return "\(ms / 1000)s" }
    return String(format: "%.1fs", Double(ms) / 1000)
  }

  static func abbreviate(_ command: String) -> String {
    let oneLine = command.replacingOccurrences(of: "\n", with: " ")
    return "`" + (oneLine.count > 120 ? String(oneLine.prefix(117)) + "..." : oneLine) + "`"
  }
}
