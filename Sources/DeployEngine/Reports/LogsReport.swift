import DeployConfig
import Foundation

/// The JSON document of `deployctl logs --output json` (the log lines themselves go to stderr).
public struct LogsReport: Codable, Sendable, Equatable {
  public var command = "logs"
  public var environment: String
  public var app: String
  /// `success` when every host's log was read (or followed until the stop), else `failed`.
  public var result: String
  public var exitCode: Int32
  public var hosts: [Host]

  public struct Host: Codable, Sendable, Equatable {
    public var name: String
    /// `ok` or `failed`.
    public var result: String
    @OmittedWhenNil public var error: String?
  }

  public init(environment: String, app: String, results: [ContainerLogs.HostResult]) {
    self.environment = environment
    self.app = app
    hosts = results.map { Host(name: $0.host, result: $0.error == nil ? "ok" : "failed", error: $0.error) }
    let ok = results.allSatisfy { $0.error == nil }
    result = ok ? "success" : "failed"
    exitCode = ok ? ExitStatus.success.rawValue : ExitStatus.failedRestored.rawValue
  }

  enum CodingKeys: String, CodingKey {
    case command, environment, app, result, hosts
    case exitCode = "exit_code"
  }
}
