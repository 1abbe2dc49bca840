import Foundation

extension StatusReport {
  /// `deployctl status`'s verdict: success only when every host is reachable, runs a release of
  /// ours and is healthy now; otherwise failed (exit 1).
  public init(environment: String, app: String, judging hosts: [HostStatus]) {
    let ok = hosts.allSatisfy { $0.reachable && $0.release != nil && $0.health == "healthy" }
    self.init(environment: environment, app: app, result: ok ? .success : .failed, hosts: hosts)
  }
}

extension EnvironmentStatus {
  /// Every host's status, judged.
  public func report() async -> StatusReport {
    StatusReport(environment: plan.environment, app: plan.app, judging: await read().map(\.status))
  }
}
