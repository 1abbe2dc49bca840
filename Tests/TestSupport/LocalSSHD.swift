import DeployConfig
import DeployTransport
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A port on 127.0.0.1 that was free a moment ago.
public func freeLoopbackPort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let ok = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
    }
  }
  guard ok else { throw TestSupportError("cannot bind a loopback port") }
  return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts TCP connections on 127.0.0.1:port.
public func loopbackPortAnswers(_ port: Int) -> Bool {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = UInt16(port).bigEndian
  return withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
    }
  }
}

/// Makes an unencrypted (or `passphrase`-encrypted) key pair; returns the private key's path.
@discardableResult
public func makeKey(_ path: String, type: String = "ed25519", passphrase: String = "", format: String? = nil)
  async throws -> String
{
  var arguments = ["-q", "-t", type, "-N", passphrase, "-C", "deployctl-test", "-f", path]
  if let format { arguments += ["-m", format] }
  try await runProgram("/usr/bin/ssh-keygen", arguments)
  return path
}

/// `SHA256:…` of a public key file, as `ssh-keygen -lf` prints it.
public func fingerprint(ofPublicKey path: String) async throws -> String {
  let line = try await runProgram("/usr/bin/ssh-keygen", ["-l", "-E", "sha256", "-f", path])
  return String(line.split(separator: " ")[1])
}

/// The parent of `pid` (from /proc), or nil.
public func parentProcess(of pid: Int32) -> Int32? {
  guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
    let close = stat.lastIndex(of: ")")
  else { return nil }
  let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
  return fields.count > 1 ? Int32(fields[1]) : nil
}

/// The PIDs of `parent`'s child processes (from /proc).
public func childProcesses(of parent: Int32) -> [Int32] {
  guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
  return entries.compactMap { entry -> Int32? in
    guard let pid = Int32(entry), parentProcess(of: pid) == parent else { return nil }
    return pid
  }
}

/// An OpenSSH server of the test's own on 127.0.0.1 at a free port: its own folder with a host
/// key, an authorized client key, a PidFile and a known_hosts file that holds its key. Runs as
/// root (`-D -e`); logins as root. `shutdown()` ends it and its connections and deletes the
/// folder.
public final class LocalSSHD: Sendable {
  public let directory: String
  public let port: Int
  /// Private host key; its `.pub` is next to it.
  public let hostKey: String
  /// Private client key authorized for root.
  public let clientKey: String
  /// known_hosts with this server's key, under `[127.0.0.1]:port`.
  public let knownHosts: String
  public let process: ChildProcess
  private let stopped = Locked(false)

  private init(
    directory: String, port: Int, hostKey: String, clientKey: String, knownHosts: String,
    process: ChildProcess
  ) {
    self.directory = directory
    self.port = port
    self.hostKey = hostKey
    self.clientKey = clientKey
    self.knownHosts = knownHosts
    self.process = process
  }

  /// Starts a server and, on 127.0.0.1, waits (bounded) until it accepts connections. With no
  /// `port` given, a free one is picked; another test can take it between the pick and sshd's
  /// bind, so a start that loses that race is tried again on a new port (at most 5 times).
  public static func start(
    extraConfig: [String] = [], hostKeyType: String = "ed25519", clientKeyType: String = "ed25519",
    listenAddress: String = "127.0.0.1", port: Int? = nil, directory: String? = nil
  ) async throws -> LocalSSHD {
    var attempt = 1
    while true {
      do {
        return try await startOnce(
          extraConfig: extraConfig, hostKeyType: hostKeyType, clientKeyType: clientKeyType,
          listenAddress: listenAddress, port: port, directory: directory)
      } catch let error as TestSupportError
        where port == nil && directory == nil && attempt < 5
        && error.description.contains("Address already in use")
      {
        attempt += 1
      }
    }
  }

  private static func startOnce(
    extraConfig: [String], hostKeyType: String, clientKeyType: String, listenAddress: String, port: Int?,
    directory: String?
  ) async throws -> LocalSSHD {
    _ = LocalSSHD.leftoversRemoved
    let directory = try directory ?? makeTemporaryDirectory("deployctl-sshd")
    let server: LocalSSHD
    do {
      try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
      let hostKey = try await makeKey("\(directory)/host_key", type: hostKeyType)
      let clientKey = try await makeKey("\(directory)/client_key", type: clientKeyType)
      try FileManager.default.copyItem(atPath: "\(clientKey).pub", toPath: "\(directory)/authorized_keys")
      let port = try port ?? freeLoopbackPort()
      let knownHosts = "\(directory)/known_hosts"
      let hostPublic = try String(contentsOfFile: "\(hostKey).pub", encoding: .utf8)
      let fields = hostPublic.split(separator: " ")
      try "[\(listenAddress)]:\(port) \(fields[0]) \(fields[1])\n".write(
        toFile: knownHosts, atomically: true, encoding: .utf8)
      // sshd takes the first value of a keyword: the test's own lines go first.
      let config =
        extraConfig + [
          "ListenAddress \(listenAddress):\(port)",
          "HostKey \(hostKey)",
          "PidFile \(directory)/sshd.pid",
          "AuthorizedKeysFile \(directory)/authorized_keys",
          "UsePAM no",
          "StrictModes no",
          "PermitRootLogin prohibit-password",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "AllowTcpForwarding yes",
          "LogLevel VERBOSE",
        ]
      try config.joined(separator: "\n").appending("\n").write(
        toFile: "\(directory)/sshd_config", atomically: true, encoding: .utf8)

      let process = try ChildProcess.spawn(
        "/usr/sbin/sshd", ["-D", "-e", "-f", "\(directory)/sshd_config"], stdout: "\(directory)/sshd.log",
        stderr: "\(directory)/sshd.log")
      server = LocalSSHD(
        directory: directory, port: port, hostKey: hostKey, clientKey: clientKey, knownHosts: knownHosts,
        process: process)
    } catch {
      try? FileManager.default.removeItem(atPath: directory)
      throw error
    }
    if listenAddress == "127.0.0.1" {
      try await server.waitUntilListening()
    }
    return server
  }

  private func waitUntilListening() async throws {
    let up = await eventually(timeout: .seconds(10)) { !process.isRunning || loopbackPortAnswers(port) }
    if !process.isRunning {
      let log = self.log
      await shutdown()
      throw TestSupportError("sshd exited at start: \(log)")
    }
    if !up {
      await shutdown()
      throw TestSupportError("sshd did not listen on 127.0.0.1:\(port) within 10s")
    }
  }

  public var pid: Int32 { process.pid }

  /// A test run that was killed half-way leaves its sshd running, orphaned (parent 1), and its
  /// folder behind: both are removed once per test process.
  static let leftoversRemoved: Bool = {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
    for entry in entries where entry.hasPrefix("deployctl-sshd.") {
      let folder = "/tmp/\(entry)"
      let pidText = (try? String(contentsOfFile: "\(folder)/sshd.pid", encoding: .utf8)) ?? ""
      if let pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0 {
        guard parentProcess(of: pid) == 1 else { continue }  // another test run's, still alive
        for child in childProcesses(of: pid) { kill(child, SIGTERM) }
        kill(pid, SIGTERM)
      } else if let age = try? FileManager.default.attributesOfItem(atPath: folder)[.modificationDate]
        as? Date,
        Date().timeIntervalSince(age) < 600
      {
        continue  // maybe a server another test process is starting right now
      }
      try? FileManager.default.removeItem(atPath: folder)
    }
    return true
  }()

  /// The per-connection sshd processes (children of the listener).
  public var connectionProcesses: [Int32] { childProcesses(of: pid) }

  public var log: String { (try? String(contentsOfFile: "\(directory)/sshd.log", encoding: .utf8)) ?? "" }

  public func hostKeyFingerprint() async throws -> String {
    try await fingerprint(ofPublicKey: "\(hostKey).pub")
  }

  public func target(
    name: String = "test", address: String = "127.0.0.1", policy: HostKeyPolicy = .strict,
    knownHosts: String? = nil, identity: SSHIdentity? = nil, connectTimeout: Duration = .seconds(30)
  ) -> SSHTarget {
    SSHTarget(
      name: name, address: address, port: port, user: "root", identity: identity ?? .file(clientKey),
      knownHostsFile: knownHosts ?? self.knownHosts, hostKeyPolicy: policy, connectTimeout: connectTimeout)
  }

  /// Ends sshd and its connections (by PID), waits (bounded) for sshd to exit, then deletes
  /// the folder.
  public func shutdown() async {
    guard endConnections() else { return }
    await process.wait(timeout: .seconds(5))
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// `shutdown()` for a `defer` or `deinit`, which cannot wait: sshd is reaped in the background.
  public func stop() {
    guard endConnections() else { return }
    process.terminate()
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// SIGTERM to sshd and its connections, once; false if that happened already.
  private func endConnections() -> Bool {
    let first = stopped.withLock { stopped in
      defer { stopped = true }
      return !stopped
    }
    guard first else { return false }
    let children = connectionProcesses
    process.signal(SIGTERM)
    for child in children { kill(child, SIGTERM) }
    return true
  }

  deinit { stop() }
}

/// Runs `body` with a fresh sshd, stopped and deleted afterwards, also when `body` throws.
@discardableResult
public func withSSHD<T>(
  extraConfig: [String] = [], hostKeyType: String = "ed25519", clientKeyType: String = "ed25519",
  _ body: (LocalSSHD) async throws -> T
) async throws -> T {
  let server = try await LocalSSHD.start(
    extraConfig: extraConfig, hostKeyType: hostKeyType, clientKeyType: clientKeyType)
  do {
    let result = try await body(server)
    await server.shutdown()
    return result
  } catch {
    // The server's side of the story, for whoever reads the failure.
    FileHandle.standardError.write(
      Data("sshd log of 127.0.0.1:\(server.port) (\(error)):\n\(server.log)\n".utf8))
    await server.shutdown()
    throw error
  }
}

/// A static HTTP server on 127.0.0.1 (busybox httpd) serving `files`; stopped by `stop()`.
public final class LocalHTTPServer: Sendable {
  public let port: Int
  public let directory: String
  private let process: ChildProcess

  private init(port: Int, directory: String, process: ChildProcess) {
    self.port = port
    self.directory = directory
    self.process = process
  }

  /// Starts the server and waits (bounded) until it accepts connections.
  public static func start(files: [String: String]) async throws -> LocalHTTPServer {
    let directory = try makeTemporaryDirectory("deployctl-http")
    let server: LocalHTTPServer
    do {
      for (name, content) in files {
        try content.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
      }
      let port = try freeLoopbackPort()
      let process = try ChildProcess.spawn(
        "/bin/busybox", ["httpd", "-f", "-p", "127.0.0.1:\(port)", "-h", directory])
      server = LocalHTTPServer(port: port, directory: directory, process: process)
    } catch {
      try? FileManager.default.removeItem(atPath: directory)
      throw error
    }
    guard await eventually(timeout: .seconds(10), { loopbackPortAnswers(server.port) }) else {
      server.stop()
      throw TestSupportError("busybox httpd did not listen on 127.0.0.1:\(server.port) within 10s")
    }
    return server
  }

  /// Ends httpd (reaped in the background, so a `defer` can call it) and deletes the folder.
  public func stop() {
    process.terminate()
    try? FileManager.default.removeItem(atPath: directory)
  }
}
