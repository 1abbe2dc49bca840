import DeployKit
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

public struct TestSupportError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// A child process started with posix_spawn. (Foundation's `Process` deadlocks on Linux when
/// tests launch several at once.)
public struct ChildProcess: Sendable {
  public let pid: pid_t

  /// Starts `path` with stdin from /dev/null and stdout/stderr appended to the given files (or
  /// /dev/null).
  public static func spawn(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, stdout: String? = nil,
    stderr: String? = nil
  ) throws -> ChildProcess {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    // The test process's threads block some signals; a child must not inherit that, or it
    // would never see the SIGTERM that stops it.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, stderr ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
    let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = env.map { strdup($0) } + [nil]
    defer {
      for pointer in argv { free(pointer) }
      for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
    guard rc == 0 else { throw TestSupportError("cannot start \(path): \(String(cString: strerror(rc)))") }
    return ChildProcess(pid: pid)
  }

  /// Waits for the process to end (bounded: then it is killed); returns its exit status.
  @discardableResult
  public func wait(timeout: Duration = .seconds(120)) -> Int32 {
    let deadline = ContinuousClock.now + timeout
    var status: Int32 = 0
    while true {
      let rc = waitpid(pid, &status, WNOHANG)
      if rc == pid { break }
      if rc < 0 { return -1 }
      if ContinuousClock.now > deadline { kill(pid, SIGKILL) }
      usleep(5_000)
    }
    let exited = status & 0x7f == 0
    return exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
  }

  public var isRunning: Bool {
    var status: Int32 = 0
    return waitpid(pid, &status, WNOHANG) == 0
  }
}

/// What a finished program printed and how it exited.
public struct ProgramResult: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
}

/// Runs a program to completion, capturing its output through files.
public func runCapturing(
  _ path: String, _ arguments: [String], environment: [String: String]? = nil,
  timeout: Duration = .seconds(120)
) throws -> ProgramResult {
  let folder = try makeTemporaryDirectory("deployctl-run")
  defer { try? FileManager.default.removeItem(atPath: folder) }
  let child = try ChildProcess.spawn(
    path, arguments, environment: environment, stdout: "\(folder)/out", stderr: "\(folder)/err")
  let status = child.wait(timeout: timeout)
  let out = (try? String(contentsOfFile: "\(folder)/out", encoding: .utf8)) ?? ""
  let err = (try? String(contentsOfFile: "\(folder)/err", encoding: .utf8)) ?? ""
  return ProgramResult(status: status, stdout: out, stderr: err)
}

/// Runs a program to completion; returns its stdout, throws with its stderr if it fails.
@discardableResult
public func runProgram(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws
  -> String
{
  let result = try runCapturing(path, arguments, environment: environment)
  guard result.status == 0 else {
    throw TestSupportError(
      "\(path) \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
  }
  return result.stdout
}

/// Checks `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
@discardableResult
public func waitUntil(timeout: Duration = .seconds(10), _ condition: () -> Bool) -> Bool {
  let deadline = ContinuousClock.now + timeout
  while !condition() {
    if ContinuousClock.now > deadline { return false }
    usleep(10_000)
  }
  return true
}

/// `waitUntil` for async tests: sleeps without holding one of the pool's threads.
@discardableResult
public func eventually(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
  let deadline = ContinuousClock.now + timeout
  while !(await condition()) {
    if ContinuousClock.now > deadline { return false }
    do { try await Task.sleep(for: .milliseconds(10)) } catch { return false }
  }
  return true
}

/// A fresh folder under /tmp, removed by `remove()`.
public func makeTemporaryDirectory(_ prefix: String) throws -> String {
  var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
  guard let path = mkdtemp(&template) else { throw TestSupportError("mkdtemp failed") }
  return String(cString: path)
}

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
  throws
  -> String
{
  var arguments = ["-q", "-t", type, "-N", passphrase, "-C", "deployctl-test", "-f", path]
  if let format { arguments += ["-m", format] }
  try runProgram("/usr/bin/ssh-keygen", arguments)
  return path
}

/// `SHA256:…` of a public key file, as `ssh-keygen -lf` prints it.
public func fingerprint(ofPublicKey path: String) throws -> String {
  let line = try runProgram("/usr/bin/ssh-keygen", ["-l", "-E", "sha256", "-f", path])
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
/// root (`-D -e`); logins as root. `stop()` ends it and its connections and deletes the folder.
public final class LocalSSHD: @unchecked Sendable {
  public let directory: String
  public let port: Int
  /// Private host key; its `.pub` is next to it.
  public let hostKey: String
  /// Private client key authorized for root.
  public let clientKey: String
  /// known_hosts with this server's key, under `[127.0.0.1]:port`.
  public let knownHosts: String
  public let process: ChildProcess
  private var stopped = false

  public init(
    extraConfig: [String] = [], hostKeyType: String = "ed25519", clientKeyType: String = "ed25519",
    listenAddress: String = "127.0.0.1", port: Int? = nil, directory: String? = nil
  ) throws {
    _ = LocalSSHD.leftoversRemoved
    let directory = try directory ?? makeTemporaryDirectory("deployctl-sshd")
    self.directory = directory
    do {
      try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
      hostKey = try makeKey("\(directory)/host_key", type: hostKeyType)
      clientKey = try makeKey("\(directory)/client_key", type: clientKeyType)
      try FileManager.default.copyItem(atPath: "\(clientKey).pub", toPath: "\(directory)/authorized_keys")
      self.port = try port ?? freeLoopbackPort()
      knownHosts = "\(directory)/known_hosts"
      let hostPublic = try String(contentsOfFile: "\(hostKey).pub", encoding: .utf8)
      let fields = hostPublic.split(separator: " ")
      try "[\(listenAddress)]:\(self.port) \(fields[0]) \(fields[1])\n".write(
        toFile: knownHosts, atomically: true, encoding: .utf8)
      // sshd takes the first value of a keyword: the test's own lines go first.
      let config =
        extraConfig + [
          "ListenAddress \(listenAddress):\(self.port)",
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

      process = try ChildProcess.spawn(
        "/usr/sbin/sshd", ["-D", "-e", "-f", "\(directory)/sshd_config"], stdout: "\(directory)/sshd.log",
        stderr: "\(directory)/sshd.log")
    } catch {
      try? FileManager.default.removeItem(atPath: directory)
      throw error
    }
    if listenAddress == "127.0.0.1" {
      try waitUntilListening()
    }
  }

  private func waitUntilListening() throws {
    for _ in 0..<250 {
      if !process.isRunning {
        let log = (try? String(contentsOfFile: "\(directory)/sshd.log", encoding: .utf8)) ?? ""
        stop()
        throw TestSupportError("sshd exited at start: \(log)")
      }
      if loopbackPortAnswers(port) { return }
      usleep(20_000)
    }
    stop()
    throw TestSupportError("sshd did not listen on 127.0.0.1:\(port) within 5s")
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

  public func hostKeyFingerprint() throws -> String { try fingerprint(ofPublicKey: "\(hostKey).pub") }

  public func target(
    name: String = "test", address: String = "127.0.0.1", policy: HostKeyPolicy = .strict,
    knownHosts: String? = nil, identity: SSHIdentity? = nil, connectTimeout: Duration = .seconds(30)
  ) -> SSHTarget {
    SSHTarget(
      name: name, address: address, port: port, user: "root", identity: identity ?? .file(clientKey),
      knownHostsFile: knownHosts ?? self.knownHosts, hostKeyPolicy: policy, connectTimeout: connectTimeout)
  }

  /// Ends sshd and its connections (by PID), then deletes the folder.
  public func stop() {
    guard !stopped else { return }
    stopped = true
    let children = connectionProcesses
    kill(pid, SIGTERM)
    for child in children { kill(child, SIGTERM) }
    process.wait(timeout: .seconds(5))
    try? FileManager.default.removeItem(atPath: directory)
  }

  deinit { stop() }
}

/// Runs blocking work (starting programs, waiting for them) on a thread of its own, so tests
/// never hold the cooperative pool's two threads while SSH sessions need them.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    let thread = Thread { continuation.resume(with: Result { try work() }) }
    thread.start()
  }
}

extension LocalSSHD {
  /// Starts a server off the cooperative pool.
  public static func start(
    extraConfig: [String] = [], hostKeyType: String = "ed25519", clientKeyType: String = "ed25519"
  ) async throws -> LocalSSHD {
    try await offPool {
      try LocalSSHD(extraConfig: extraConfig, hostKeyType: hostKeyType, clientKeyType: clientKeyType)
    }
  }

  /// Stops the server off the cooperative pool.
  public func shutdown() async {
    _ = try? await offPool { self.stop() }
  }
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

/// `runCapturing` on a thread of its own, for programs that talk to code running on the
/// cooperative pool (a port forward): blocking a pool thread could starve it.
public func runCapturingOffPool(
  _ path: String, _ arguments: [String], environment: [String: String]? = nil,
  timeout: Duration = .seconds(120)
) async throws -> ProgramResult {
  try await offPool { try runCapturing(path, arguments, environment: environment, timeout: timeout) }
}

/// A static HTTP server on 127.0.0.1 (busybox httpd) serving `files`; stopped by `stop()`.
public final class LocalHTTPServer: @unchecked Sendable {
  public let port: Int
  public let directory: String
  private let process: ChildProcess

  public init(files: [String: String]) throws {
    directory = try makeTemporaryDirectory("deployctl-http")
    for (name, content) in files {
      try content.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
    }
    port = try freeLoopbackPort()
    process = try ChildProcess.spawn(
      "/bin/busybox", ["httpd", "-f", "-p", "127.0.0.1:\(port)", "-h", directory])
    waitUntil { loopbackPortAnswers(self.port) }
  }

  public func stop() {
    kill(process.pid, SIGTERM)
    process.wait(timeout: .seconds(5))
    try? FileManager.default.removeItem(atPath: directory)
  }
}
