import DeployConfig
import Foundation

/// The JSON document's `verification`: every host's checks and the overall verdict.
public struct VerificationReport: Codable, Sendable, Equatable {
  public var via: String
  public var passed: Bool
  public var hosts: [HostVerification]
  /// `verify.prometheus`'s bake window, once for the environment; nil (the key left out, so
  /// documents without one read as before) without one, or when a host's checks failed first.
  @OmittedWhenNil public var prometheus: PrometheusVerification?

  public init(via: HealthSpec.Via, hosts: [HostVerification], prometheus: PrometheusVerification? = nil) {
    self.via = via.rawValue
    self.hosts = hosts
    self.prometheus = prometheus
    self.passed = hosts.allSatisfy(\.passed) && (prometheus?.passed ?? true)
  }

  /// The hosts that failed, for the rollout's error message.
  public var failedHosts: [String] { hosts.filter { !$0.passed }.map(\.name) }
}
