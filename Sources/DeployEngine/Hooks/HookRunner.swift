import DeployConfig
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Runs the plan's hooks on deployctl's machine: an argv list started with posix_spawnp (no
/// shell; a name without `/` is looked up in `PATH`, one with `/` is relative to the folder
/// deployctl runs in), with deployctl's environment plus the `DEPLOYCTL_*` variables, its
/// stdout and stderr streamed line by line as `hook pre_deploy: …` with secret values masked.
///
/// The wait never blocks Swift's cooperative pool: the child is reaped with
/// `waitpid(WNOHANG)` and its output read from a non-blocking socket, with `Task.sleep` between
/// turns. The hook leads a process group of its own, so a timeout (SIGTERM, then SIGKILL after
/// `killAfter`) or a cancelled run stops whatever it started too.
public struct HookRunner: Sendable {
  public var hooks: HooksSpec
  public var masker: SecretMasker
  /// deployctl's own environment, which hooks inherit.
  public var baseEnvironment: [String: String]
  /// Between SIGTERM and SIGKILL when a hook outlives `hooks.timeout` or the run is cancelled.
  public var killAfter: Duration

  public init(
    hooks: HooksSpec, masker: SecretMasker = SecretMasker(),
    baseEnvironment: [String: String] = ProcessInfo.processInfo.environment, killAfter: Duration = .seconds(5)
  ) {
    self.hooks = hooks
    self.masker = masker
    self.baseEnvironment = baseEnvironment
    self.killAfter = killAfter
  }

  /// Runs the hook of `stage`, if the plan has one (nil otherwise). `output` gets each line it
  /// prints, prefixed and masked, as it comes. A hook that cannot start, exits non-zero or
  /// times out is a `failed` result, never a thrown error; what that means (refusal for
  /// pre_deploy, a warning otherwise) is the engine's to decide.
  public func run(
    _ stage: HooksSpec.Stage, environment: HookEnvironment,
    output: @escaping @Sendable (String) -> Void = { _ in }
  ) async -> HookResult? {
    guard let argv = hooks.command(stage) else { return nil }
    let clock = ContinuousClock()
    let started = clock.now
    var variables = baseEnvironment
    variables.merge(environment.variables(for: stage, masker: masker)) { _, new in new }
    let prefix = "hook \(stage.rawValue): "
    let lines = LineSplitter { line in output(prefix + self.masker.mask(line)) }
    let outcome: HookProcess.Outcome
    do {
      let process = try HookProcess.spawn(argv, environment: variables)
      outcome = await process.wait(timeout: hooks.timeout, killAfter: killAfter, lines: lines)
    } catch {
      outcome = .couldNotStart(error.description)
    }
    lines.finish()
    let duration = (clock.now - started).milliseconds
    var result = HookResult(name: stage, result: .ok, exitStatus: nil, durationMs: duration, error: nil)
    switch outcome {
    case .exited(let status):
      result.exitStatus = status
      if status != 0 {
        result.result = .failed
        result.error = "\(argv[0]) exited with status \(status)"
      }
    case .signalled(let signal):
      result.result = .failed
      result.error = "\(argv[0]) was killed by signal \(signal)"
    case .timedOut:
      result.result = .failed
      result.error =
        "\(argv[0]) did not finish within \(hooks.timeout.configText) (hooks.timeout); it was stopped"
    case .cancelled:
      result.result = .failed
      result.error = "\(argv[0]) was stopped: the run was interrupted"
    case .couldNotStart(let reason):
      result.result = .failed
      result.error = "cannot start \(argv[0]): \(reason)"
    }
    result.error = result.error.map(masker.mask)
    return result
  }
}

/// One hook's outcome (JSON `hooks[]`).
public struct HookResult: Codable, Sendable, Equatable {
  public enum Outcome: String, Codable, Sendable {
    case ok
    case failed
  }

  public var name: HooksSpec.Stage
  public var result: Outcome
  /// nil when it did not exit by itself (not started, killed, timed out).
  public var exitStatus: Int32?
  public var durationMs: Int
  /// Why it failed, with secret values masked.
  public var error: String?

  public init(name: HooksSpec.Stage, result: Outcome, exitStatus: Int32?, durationMs: Int, error: String?) {
    self.name = name
    self.result = result
    self.exitStatus = exitStatus
    self.durationMs = durationMs
    self.error = error
  }

  enum CodingKeys: String, CodingKey {
    case name, result, error
    case exitStatus = "exit_status"
    case durationMs = "duration_ms"
  }
}

/// Splits a byte stream into lines for a callback; the last line may lack its newline.
final class LineSplitter: @unchecked Sendable {
  private var pending: [UInt8] = []
  private let emit: (String) -> Void

  init(_ emit: @escaping (String) -> Void) { self.emit = emit }

  func feed(_ bytes: ArraySlice<UInt8>) {
    pending.append(contentsOf: bytes)
    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
      var line = pending[..<newline]
      if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
      emit(String(decoding: line, as: UTF8.self))
      pending.removeSubrange(...newline)
    }
  }

  func finish() {
    if !pending.isEmpty { emit(String(decoding: pending, as: UTF8.self)) }
    pending.removeAll()
  }
}

/// A started hook: its PID (leading its own process group) and the read end of its output.
final class HookProcess: @unchecked Sendable {
  enum Outcome {
    case exited(Int32)
    case signalled(Int32)
    case timedOut
    case cancelled
    case couldNotStart(String)
  }

  struct SpawnError: Error, CustomStringConvertible {
    var description: String
  }

  let pid: pid_t
  private let output: Int32
  private var reaped = false

  private init(pid: pid_t, output: Int32) {
    self.pid = pid
    self.output = output
  }

  deinit {
    close(output)
  }

  static func spawn(_ argv: [String], environment: [String: String]) throws(SpawnError) -> HookProcess {
    // A socket pair rather than pipe(2): it can be made close-on-exec atomically (pipe2 is not
    // visible to Swift), so a process another thread spawns meanwhile never inherits it.
    var fds: [Int32] = [-1, -1]
    let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    guard socketpair(AF_UNIX, type, 0, &fds) == 0 else {
      throw SpawnError(description: "socketpair: \(String(cString: strerror(errno)))")
    }
    let (readEnd, writeEnd) = (fds[0], fds[1])
    _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
    posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
    let started = Spawn.start(
      argv, environment: environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
      actions: &actions, ownProcessGroup: true)
    close(writeEnd)
    switch started {
    case .success(let pid): return HookProcess(pid: pid, output: readEnd)
    case .failure(let failure):
      close(readEnd)
      throw SpawnError(description: failure.description)
    }
  }

  /// Reads what the hook printed and reaps it, sleeping between turns. Past `timeout` its group
  /// gets SIGTERM, `killAfter` later SIGKILL. When the waiting task is cancelled, the group gets
  /// SIGTERM at once and a task of its own finishes the job (SIGKILL, reaping).
  func wait(timeout: Duration, killAfter: Duration, lines: LineSplitter) async -> Outcome {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var terminatedAt: ContinuousClock.Instant?
    var pause = Duration.milliseconds(1)
    while true {
      let read = drain(lines)
      if let status = reap() {
        _ = drain(lines)
        return terminatedAt == nil ? status : .timedOut
      }
      let now = clock.now
      if let terminatedAt {
        if now >= terminatedAt + killAfter { kill(-pid, SIGKILL) }
      } else if now >= deadline {
        kill(-pid, SIGTERM)
        terminatedAt = now
      }
      pause = read ? .milliseconds(1) : min(pause * 2, .milliseconds(20))
      do {
        try await Task.sleep(for: pause)
      } catch {
        kill(-pid, SIGTERM)
        Task.detached { await self.stopAfterCancellation(killAfter: killAfter) }
        return .cancelled
      }
    }
  }

  private func stopAfterCancellation(killAfter: Duration) async {
    let deadline = ContinuousClock.now + killAfter
    while !reaped && reap() == nil {
      if ContinuousClock.now >= deadline { kill(-pid, SIGKILL) }
      // Throws only when cancelled, which is why we are here: the loop still waits to reap.
      try? await Task.sleep(for: .milliseconds(20))
    }
  }

  /// Whatever the socket holds now; true if anything was read.
  private func drain(_ lines: LineSplitter) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 65536)
    var any = false
    while true {
      let n = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
      if n > 0 {
        lines.feed(buffer[..<n])
        any = true
      } else if n < 0 && errno == EINTR {
        continue
      } else {
        return any  // EAGAIN (nothing now) or end of file
      }
    }
  }

  private func reap() -> Outcome? {
    guard !reaped else { return nil }
    var raw: Int32 = 0
    let rc = waitpid(pid, &raw, WNOHANG)
    guard rc == pid else {
      if rc < 0 && errno != EINTR {
        reaped = true
        return .couldNotStart("lost track of process \(pid)")
      }
      return nil
    }
    reaped = true
    let signal = raw & 0x7f
    return signal == 0 ? .exited((raw >> 8) & 0xff) : .signalled(signal)
  }
}
