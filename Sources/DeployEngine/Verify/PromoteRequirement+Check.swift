import DeployConfig

/// What one FROM host's live release says about verification, for `promote_requires`.
public struct LiveVerification: Sendable, Equatable {
  public var host: String
  /// The live release's id, nil when the host runs none of ours.
  public var release: String?
  /// The release record's `verified`: nil when the record does not say (made before
  /// verification existed, or by a plan without `verify:`).
  public var verified: Bool?

  public init(host: String, release: String?, verified: Bool?) {
    self.host = host
    self.release = release
    self.verified = verified
  }
}

extension PromoteRequirement {
  /// One problem per FROM host whose live release does not meet the requirement of `to`'s
  /// inventory; empty when the promotion may go on. The engine refuses (exit 2) with these.
  public func problems(from: String, to: String, hosts: [LiveVerification]) -> [String] {
    switch self {
    case .verified:
      return hosts.compactMap { live in
        let why = "\(to) requires a verified release (promote_requires: verified in inventories/\(to).yml)"
        guard let release = live.release else { return "\(live.host): runs no release of ours; \(why)" }
        switch live.verified {
        case true: return nil
        case false: return "\(live.host): release \(release) failed verification in \(from); \(why)"
        case nil: return "\(live.host): release \(release) was not verified in \(from); \(why)"
        }
      }
    }
  }
}
