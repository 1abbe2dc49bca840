import DeployConfig
import Foundation

/// `deployctl exec`: one command on every host of an environment, each host's output and exit
/// status. The words are sent as the user typed them after `--`: each one quoted, so the
/// remote shell sees exactly those words (`deployctl exec prod -- sh -c 'echo $HOSTNAME'`
/// lets the remote shell expand, because the user asked for a shell). With `shell`, the one
/// argument is itself a command line for the host's shell, as `ssh host 'CMD'` sends it.
public struct AdHocCommand: Sendable {
  public var arguments: [String]
  /// Per host; nil waits as long as the command runs.
  public var timeout: Duration?
  /// `exec --shell`: `arguments` is one command line, sent as it is.
  public var shell: Bool

  public init(arguments: [String], timeout: Duration? = nil, shell: Bool = false) {
    self.arguments = arguments
    self.timeout = timeout
    self.shell = shell
  }

  /// The command line sent to each host's shell.
  public var commandLine: String { remoteCommand.line }

  /// The words, each quoted; with `shell`, the user's own command line as it is (`exec --shell`
  /// asks the host's shell to read it).
  var remoteCommand: RemoteCommand {
    shell ? .userCommandLine(arguments.joined(separator: " ")) : RemoteCommand(arguments)
  }

  /// Runs on every target, `parallel` at a time; `onLine` gets each output line as it arrives
  /// with its host's name. A host that fails never stops the others.
  public func run(
    on targets: [SSHTarget], parallel: Int, connections: SSHConnections = SSHConnections(),
    onLine: @escaping @Sendable (String, OutputLine) -> Void = { _, _ in }
  ) async -> [HostOutcome<ExecResult>] {
    let command = remoteCommand
    let timeout = timeout
    let outcomes = await FanOut.run(targets, parallel: parallel, name: \.name) { target in
      try await SSHTransport(target: target, connections: connections).exec(command, timeout: timeout) {
        line in onLine(target.name, line)
      }
    }
    await connections.closeAll()
    return outcomes
  }
}

/// The JSON document of `deployctl exec --output json`.
public struct AdHocReport: Codable, Sendable, Equatable {
  public var command: String = "exec"
  public var environment: String
  /// The command line each host ran.
  public var remoteCommand: String
  /// `success` when every host ran the command and it exited 0, else `failed`.
  public var result: String
  public var exitCode: Int32
  public var hosts: [Host]
  public var durationMs: Int

  public struct Host: Codable, Sendable, Equatable {
    public var name: String
    /// `ok` (exit 0), `failed` (ran, non-zero exit or signal), `unreachable` (no session),
    /// `error` (the session broke or the command timed out).
    public var result: String
    public var exitStatus: Int32?
    public var signal: String?
    public var stdout: String
    public var stderr: String
    public var durationMs: Int
    public var error: String?

    enum CodingKeys: String, CodingKey {
      case name, result, signal, stdout, stderr, error
      case exitStatus = "exit_status"
      case durationMs = "duration_ms"
    }
  }

  enum CodingKeys: String, CodingKey {
    case command, environment, result, hosts
    case remoteCommand = "remote_command"
    case exitCode = "exit_code"
    case durationMs = "duration_ms"
  }

  public init(
    environment: String, remoteCommand: String, outcomes: [HostOutcome<ExecResult>], duration: Duration
  ) {
    self.environment = environment
    self.remoteCommand = remoteCommand
    self.hosts = outcomes.map(Self.host)
    let ok = hosts.allSatisfy { $0.result == "ok" }
    self.result = ok ? "success" : "failed"
    self.exitCode = ok ? ExitStatus.success.rawValue : ExitStatus.failedRestored.rawValue
    self.durationMs = duration.milliseconds
  }

  private static func host(_ outcome: HostOutcome<ExecResult>) -> Host {
    let ms = outcome.duration.milliseconds
    switch outcome.result {
    case .success(let result):
      return Host(
        name: outcome.host, result: result.succeeded ? "ok" : "failed", exitStatus: result.exitStatus,
        signal: result.exitSignal, stdout: result.stdout, stderr: result.stderr, durationMs: ms, error: nil)
    case .failure(let error):
      return Host(
        name: outcome.host, result: Self.isUnreachable(error) ? "unreachable" : "error", exitStatus: nil,
        signal: nil, stdout: "", stderr: "", durationMs: ms,
        error: error is CancellationError ? "interrupted" : String(describing: error))
    }
  }

  /// Failures before a session existed.
  static func isUnreachable(_ error: any Error) -> Bool {
    switch error as? SSHError {
    case .nameNotResolved, .connectionRefused, .unreachable, .timedOut, .handshakeFailed, .hostKeyUnknown,
      .hostKeyChanged, .hostKeyRevoked, .hostKeyNotRecorded, .authenticationFailed, .jumpFailed,
      .tunnelRefused:
      return true
    default:
      return false
    }
  }
}
