import DeployConfig
import Foundation

/// The JSON document of `deployctl history`.
public struct HistoryReport: Codable, Sendable, Equatable {
  public var command = "history"
  public var environment: String
  public var app: String
  /// `success` when every host's records were read, else `failed` (the rest still shown).
  public var result: CommandResult
  public var exitCode: Int32
  /// Newest first.
  public var releases: [HistoryEntry]
  public var hosts: [HistoryHost]

  public init(environment: String, app: String, releases: [HistoryEntry], hosts: [HistoryHost]) {
    self.environment = environment
    self.app = app
    self.releases = releases
    self.hosts = hosts
    result = hosts.allSatisfy(\.reachable) ? .success : .failed
    exitCode = result.exitStatus.rawValue
  }

  enum CodingKeys: String, CodingKey {
    case command, environment, app, result, releases, hosts
    case exitCode = "exit_code"
  }
}
