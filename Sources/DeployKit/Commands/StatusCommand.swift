import Foundation

extension EnvironmentStatus {
  /// `deployctl status`: success only when every host is reachable, runs a release of ours and
  /// is healthy now; otherwise failed (exit 1).
  public func report() async -> StatusReport {
    let hosts = await read().map(\.status)
    let ok = hosts.allSatisfy { $0.reachable && $0.release != nil && $0.health == "healthy" }
    return StatusReport(
      environment: plan.environment, app: plan.app, result: ok ? .success : .failed, hosts: hosts)
  }
}
