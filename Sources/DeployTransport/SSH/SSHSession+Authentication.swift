import CLibSSH2
import DeployConfig
import Foundation

extension SSHSession {
  // MARK: Host key

  /// The server's key, checked against known_hosts under the target's policy. A changed or
  /// revoked key is refused under every policy.
  func verifyHostKey(_ knownHosts: KnownHosts) throws(SSHError) {
    var length = 0
    var type: Int32 = 0
    guard let pointer = libssh2_session_hostkey(handle.raw, &length, &type) else {
      throw .library(
        host: target.name, operation: "reading the host key", code: handle.lastErrno,
        message: handle.lastError)
    }
    let key = [UInt8](UnsafeRawBufferPointer(start: pointer, count: length))
    guard let algorithm = HostKeyAlgorithm.forHostkeyType(type) else {
      throw .handshakeFailed(
        host: target.name, endpoint: target.endpoint, reason: "unsupported host key type \(type)")
    }
    let fingerprint = HostKeyFingerprint(algorithm: algorithm.name, sha256: sha256Fingerprint())
    let name = target.knownHostsName
    let file = Self.expandingTilde(target.knownHostsFile)

    if knownHosts.revoked.contains(Data(key).base64EncodedString()) {
      throw .hostKeyRevoked(host: target.name, key: fingerprint, knownHostsFile: file)
    }
    switch knownHosts.check(name: name, key: key, algorithm: algorithm) {
    case .match:
      return
    case .mismatch:
      throw .hostKeyChanged(host: target.name, knownHostsName: name, key: fingerprint, knownHostsFile: file)
    case .failure(let message):
      throw .library(host: target.name, operation: "checking known_hosts", code: -1, message: message)
    case .notFound:
      // Keys of other types on record and none of this type: not a new host. OpenSSH would
      // only warn; we refuse, the safe reading.
      if !knownHosts.knownAlgorithms(for: name).isEmpty {
        throw .hostKeyChanged(host: target.name, knownHostsName: name, key: fingerprint, knownHostsFile: file)
      }
      switch target.hostKeyPolicy {
      case .strict:
        let port = target.port == 22 ? "" : "-p \(target.port) "
        let keyscan = "ssh-keyscan \(port)-t \(fingerprint.keyscanType) \(ShellQuote.quote(target.address))"
        throw .hostKeyUnknown(
          host: target.name, knownHostsName: name, key: fingerprint, knownHostsFile: file, keyscan: keyscan)
      case .acceptNew:
        let line = try knownHosts.line(for: name, key: key, algorithm: algorithm)
        if let reason = KnownHosts.append(line, to: file) {
          throw .hostKeyNotRecorded(host: target.name, knownHostsFile: file, reason: reason)
        }
      }
    }
  }

  /// `SHA256:` + unpadded base64 of the SHA-256 of the key blob, as `ssh-keygen -l` prints it.
  private func sha256Fingerprint() -> String {
    guard let digest = libssh2_hostkey_hash(handle.raw, LIBSSH2_HOSTKEY_HASH_SHA256) else {
      return "SHA256:?"
    }
    let bytes = Data(UnsafeRawBufferPointer(start: digest, count: 32))
    var text = bytes.base64EncodedString()
    while text.hasSuffix("=") { text.removeLast() }
    return "SHA256:" + text
  }

  // MARK: Authentication

  /// Public key authentication with the target's key file, or with each key of the ssh-agent.
  /// On failure the error lists what the server accepts and every key tried.
  func authenticate(until deadline: ContinuousClock.Instant) async throws {
    let raw = handle.raw
    let user = target.user
    let list = try await drive(
      until: deadline, { dc_libssh2_userauth_list(raw, user) },
      wouldBlock: { $0 == nil && self.handle.lastErrno == LIBSSH2_ERROR_EAGAIN })
    guard let list else {
      if libssh2_userauth_authenticated(raw) != 0 { return }
      try check(handle.lastErrno, "asking which authentication methods the server accepts")
      throw SSHError.authenticationFailed(
        host: target.name, endpoint: target.endpoint, methods: [], tried: [])
    }
    let methods = String(cString: list).split(separator: ",").map(String.init)
    var tried: [String] = []
    guard methods.contains("publickey") else {
      throw SSHError.authenticationFailed(
        host: target.name, endpoint: target.endpoint, methods: methods,
        tried: ["nothing: the server does not accept public keys"])
    }

    switch target.identity {
    case .file(let path):
      let file = Self.expandingTilde(path)
      guard FileManager.default.isReadableFile(atPath: file) else {
        tried.append("key \(path) (cannot read the file)")
        break
      }
      let passphrase = ProcessInfo.processInfo.environment["DEPLOYCTL_SSH_PASSPHRASE"]
      let rc = try await drive(until: deadline) {
        dc_libssh2_userauth_publickey_fromfile(raw, user, nil, file, passphrase)
      }
      if rc == 0 { return }
      if Self.isConnectionFailure(rc) { try check(rc, "authenticating") }
      tried.append("key \(path) (\(keyFailure(rc, file: file, passphraseSet: passphrase != nil)))")

    case .agent(let socket):
      let socketPath = socket ?? ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"]
      guard let socketPath, !socketPath.isEmpty else {
        tried.append("ssh-agent (SSH_AUTH_SOCK is not set: start an agent or set ssh.identity_file)")
        break
      }
      guard let agent = AgentHandle(session: handle) else {
        tried.append("ssh-agent (\(handle.lastError))")
        break
      }
      guard agent.connect(socket: socketPath) == 0 else {
        tried.append("ssh-agent at \(socketPath) (cannot connect: \(handle.lastError))")
        break
      }
      let identities = agent.identities()
      if identities.isEmpty { tried.append("ssh-agent at \(socketPath) (holds no keys: ssh-add one)") }
      for (identity, comment) in identities {
        let rc = try await drive(until: deadline) { libssh2_agent_userauth(agent.raw, user, identity) }
        if rc == 0 { return }
        if Self.isConnectionFailure(rc) { try check(rc, "authenticating") }
        tried.append("agent key \(comment.isEmpty ? "(no comment)" : comment) (rejected by the server)")
      }
    }
    throw SSHError.authenticationFailed(
      host: target.name, endpoint: target.endpoint, methods: methods, tried: tried)
  }

  private func keyFailure(_ rc: Int32, file: String, passphraseSet: Bool) -> String {
    switch rc {
    case LIBSSH2_ERROR_FILE:
      let hint =
        passphraseSet
        ? "; is DEPLOYCTL_SSH_PASSPHRASE its passphrase?"
        : "; if it is encrypted, set DEPLOYCTL_SSH_PASSPHRASE"
      return "cannot load it: \(handle.lastError)\(hint)"
    case LIBSSH2_ERROR_AUTHENTICATION_FAILED, LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
      if Self.isRSAKey(file) {
        return "rejected by the server; libssh2 1.10 signs with RSA/SHA-1 (ssh-rsa), which OpenSSH 8.8 and "
          + "later refuse unless PubkeyAcceptedAlgorithms allows it: use an ed25519 or ECDSA key"
      }
      return "rejected by the server"
    default:
      return "\(handle.lastError) (libssh2 error \(rc))"
    }
  }

  /// Whether a private key file holds an RSA key (PEM `RSA PRIVATE KEY`, or OpenSSH format
  /// whose public part names `ssh-rsa`).
  static func isRSAKey(_ path: String) -> Bool {
    // Only a hint for the signature algorithm: an unreadable key file is reported when libssh2
    // reads it.
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
    if text.contains("BEGIN RSA PRIVATE KEY") { return true }
    guard text.contains("BEGIN OPENSSH PRIVATE KEY") else { return false }
    let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
    guard let blob = Data(base64Encoded: body) else { return false }
    return blob.prefix(128).range(of: Data("ssh-rsa".utf8)) != nil
  }

  static func expandingTilde(_ path: String) -> String {
    guard path == "~" || path.hasPrefix("~/") else { return path }
    let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
    return home + path.dropFirst()
  }
}
