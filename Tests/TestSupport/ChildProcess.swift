import DeployConfig
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

// Tests run in one process on Swift's cooperative pool, one thread per core: two on our
// machines. Waiting for a child by blocking one of those threads (a semaphore, `usleep`, a
// blocking `waitpid`) stalls every other test, and the SSH sessions of other tests then time
// out. So every wait here sleeps with `Task.sleep` between non-blocking checks.

public struct TestSupportError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// A child process started with posix_spawn. (Foundation's `Process` deadlocks on Linux when
/// tests launch several at once.) It remembers once it has been reaped, so it never signals a
/// PID that may by then belong to another process.
public final class ChildProcess: Sendable {
  public let pid: pid_t
  /// Leads a process group of its own: signals reach whatever it started too, as with
  /// `timeout(1)`.
  private let leadsGroup: Bool
  private let state = Locked(State())

  private struct State {
    var exitStatus: Int32?
    var timedOut = false
  }

  private init(pid: pid_t, leadsGroup: Bool) {
    self.pid = pid
    self.leadsGroup = leadsGroup
  }

  /// Starts `path` in `directory` (via `env -C`), stdin from the file `stdin` (or /dev/null),
  /// stdout and stderr appended to the given files (or /dev/null). `ownProcessGroup`: for
  /// programs run to completion, so a timeout stops what they started as well.
  public static func spawn(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, in directory: String? = nil,
    stdin: String? = nil, stdout: String? = nil, stderr: String? = nil, ownProcessGroup: Bool = false
  ) throws -> ChildProcess {
    // posix_spawn_file_actions_addchdir_np is not visible to Swift; env(1) changes directory
    // and then execs the program, keeping the PID.
    var program = path
    var arguments = arguments
    if let directory {
      program = "/usr/bin/env"
      arguments = ["-C", directory, "--", path] + arguments
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, stdin ?? "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, stderr ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
    let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
    // Signals unblocked and at their defaults, as deployctl starts its hooks (`Spawn`).
    let pid: pid_t
    switch Spawn.start(
      [program] + arguments, environment: env, actions: &actions, ownProcessGroup: ownProcessGroup)
    {
    case .success(let started): pid = started
    case .failure(let failure): throw TestSupportError("cannot start \(path): \(failure)")
    }
    return ChildProcess(pid: pid, leadsGroup: ownProcessGroup)
  }

  /// Its exit status once it has ended (128 + N when signal N ended it), nil while it runs.
  /// Reaps it; never blocks.
  public var exitStatus: Int32? { state.withLock { reapIfEnded(&$0) } }

  public var isRunning: Bool { exitStatus == nil }

  /// Whether `wait` had to stop it because its timeout passed.
  public var timedOut: Bool { state.withLock { $0.timedOut } }

  private func reapIfEnded(_ state: inout State) -> Int32? {
    if let status = state.exitStatus { return status }
    var raw: Int32 = 0
    let rc = waitpid(pid, &raw, WNOHANG)
    if rc == pid {
      let signal = raw & 0x7f
      state.exitStatus = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    } else if rc < 0 && errno != EINTR {
      state.exitStatus = -1  // not our child (any more): nothing to wait for
    }
    return state.exitStatus
  }

  /// Sends `signal` (to its process group if it leads one), unless it has been reaped.
  public func signal(_ signal: Int32) {
    state.withLock {
      guard reapIfEnded(&$0) == nil else { return }
      kill(leadsGroup ? -pid : pid, signal)
    }
  }

  /// Waits until it ends and returns its exit status, polling `waitpid(WNOHANG)` with
  /// `Task.sleep` in between, so no thread of the pool is held. Bounded: when `timeout` passes
  /// it gets SIGTERM and 5 s later SIGKILL (as `timeout --kill-after=5`), and `timedOut` says
  /// so. If the waiting task is cancelled, the child is killed and reaped by a task of its own.
  @discardableResult
  public func wait(timeout: Duration = .seconds(120)) async -> Int32 {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var pause = Duration.milliseconds(1)
    while true {
      if let status = exitStatus { return status }
      let now = clock.now
      if now >= deadline + .seconds(5) {
        signal(SIGKILL)
      } else if now >= deadline && !timedOut {
        state.withLock { $0.timedOut = true }
        signal(SIGTERM)
      }
      do {
        try await Task.sleep(for: pause)
      } catch {
        signal(SIGKILL)
        Task.detached { await self.wait(timeout: .seconds(5)) }
        return 128 + SIGKILL
      }
      pause = min(pause * 2, .milliseconds(20))
    }
  }

  /// SIGTERM, then waits for the end (SIGKILL after `timeout`).
  public func stop(timeout: Duration = .seconds(5)) async {
    signal(SIGTERM)
    await wait(timeout: timeout)
  }

  /// `stop()` without waiting for it, for a `defer` or a `deinit`: the end is awaited and the
  /// child reaped by a task of its own.
  public func terminate() {
    guard isRunning else { return }
    signal(SIGTERM)
    Task.detached { await self.wait(timeout: .seconds(5)) }
  }
}

/// What a finished program printed and how it ended.
public struct ProgramResult: Sendable {
  /// Exit status; 124 when it outlived its timeout (as `timeout(1)` reports it).
  public var status: Int32
  public var stdout: String
  public var stderr: String
  public var timedOut: Bool
}

/// A program whose output goes to files in a private folder, not to pipes: a daemon another
/// test starts at the same moment can inherit a pipe's write end and keep it open, and a read
/// to end-of-file would then never return. Runs in a process group of its own.
public final class RunningProgram: Sendable {
  public let process: ChildProcess
  private let folder: String

  /// Starts `path`; `input`, if given, is its stdin, from a 0600 file (it may be a password).
  public static func start(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, in directory: String? = nil,
    input: Data? = nil
  ) throws -> RunningProgram {
    let folder = try makeTemporaryDirectory("deployctl-run")
    do {
      var stdin: String?
      if let input {
        stdin = "\(folder)/stdin"
        try writePrivateFile("\(folder)/stdin", input)
      }
      let process = try ChildProcess.spawn(
        path, arguments, environment: environment, in: directory, stdin: stdin, stdout: "\(folder)/stdout",
        stderr: "\(folder)/stderr", ownProcessGroup: true)
      return RunningProgram(process: process, folder: folder)
    } catch {
      try? FileManager.default.removeItem(atPath: folder)
      throw error
    }
  }

  private init(process: ChildProcess, folder: String) {
    self.process = process
    self.folder = folder
  }

  public var pid: pid_t { process.pid }
  public var stdoutSoFar: String { read("stdout") }
  public var stderrSoFar: String { read("stderr") }

  /// Waits for the end (bounded, see `ChildProcess.wait`) and returns what it printed.
  public func finish(timeout: Duration = .seconds(120)) async -> ProgramResult {
    let status = await process.wait(timeout: timeout)
    let timedOut = process.timedOut
    return ProgramResult(
      status: timedOut ? 124 : status, stdout: read("stdout"), stderr: read("stderr"), timedOut: timedOut)
  }

  private func read(_ name: String) -> String {
    guard let data = FileManager.default.contents(atPath: "\(folder)/\(name)") else { return "" }
    return String(decoding: data, as: UTF8.self)
  }

  /// A program never finished (its test threw first) is stopped; the files go either way.
  deinit {
    process.terminate()
    try? FileManager.default.removeItem(atPath: folder)
  }
}

/// Runs a program to completion (see `RunningProgram`), in `directory` if given, killed after
/// `timeout`.
public func runCapturing(
  _ path: String, _ arguments: [String], environment: [String: String]? = nil, in directory: String? = nil,
  input: Data? = nil, timeout: Duration = .seconds(120)
) async throws -> ProgramResult {
  let program = try RunningProgram.start(
    path, arguments, environment: environment, in: directory, input: input)
  return await program.finish(timeout: timeout)
}

/// Runs a program to completion; returns its stdout, throws with its stderr if it fails.
@discardableResult
public func runProgram(
  _ path: String, _ arguments: [String], environment: [String: String]? = nil,
  timeout: Duration = .seconds(120)
) async throws -> String {
  let result = try await runCapturing(path, arguments, environment: environment, timeout: timeout)
  guard result.status == 0 else {
    let how = result.timedOut ? "did not finish within \(timeout)" : "exited \(result.status)"
    throw TestSupportError("\(path) \(arguments.joined(separator: " ")) \(how): \(result.stderr)")
  }
  return result.stdout
}

/// Checks `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
/// Sleeps without holding one of the pool's threads.
@discardableResult
public func eventually(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
  let deadline = ContinuousClock.now + timeout
  while !(await condition()) {
    if ContinuousClock.now > deadline { return false }
    do { try await Task.sleep(for: .milliseconds(10)) } catch { return false }
  }
  return true
}

/// A fresh folder under /tmp (mode 0700), for the caller to remove.
public func makeTemporaryDirectory(_ prefix: String) throws -> String {
  var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
  guard let path = mkdtemp(&template) else { throw TestSupportError("mkdtemp failed") }
  return String(cString: path)
}

/// Writes a new file readable by its owner only, through an O_CLOEXEC descriptor (a child
/// spawned meanwhile must not keep it open).
private func writePrivateFile(_ path: String, _ data: Data) throws {
  let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
  guard fd >= 0 else { throw TestSupportError("open \(path): \(String(cString: strerror(errno)))") }
  defer { close(fd) }
  let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
  guard written == data.count else {
    throw TestSupportError("write \(path): \(String(cString: strerror(errno)))")
  }
}
