import DeployConfig
import Foundation

/// The JSON document's `verification`: every host's checks and the overall verdict.
public struct VerificationReport: Codable, Sendable, Equatable {
  public var via: String
  public var passed: Bool
  public var hosts: [HostVerification]

  public init(via: HealthSpec.Via, hosts: [HostVerification]) {
    self.via = via.rawValue
    self.hosts = hosts
    self.passed = hosts.allSatisfy(\.passed)
  }

  /// The hosts that failed, for the rollout's error message.
  public var failedHosts: [String] { hosts.filter { !$0.passed }.map(\.name) }
}
