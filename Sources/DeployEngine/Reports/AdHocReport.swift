import DeployConfig
import DeployTransport
import Foundation

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
