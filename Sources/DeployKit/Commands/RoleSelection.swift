import DeployConfig
import DeployEngine
import DeployTransport

/// `--role R` of `logs` and `exec` (a plan with `roles:`, docs/commands.md).
enum RoleSelection {
  /// The hosts of `plan` that run `role`; refuses a role the plan does not have.
  static func hosts(running role: String, in plan: EnvironmentPlan) throws -> Set<String> {
    let known = Set(plan.hosts.flatMap { $0.rolePlans.map(\.role) })
    guard known.contains(role) else {
      throw RolloutError.refused(
        "the plan of \(plan.app) has no role `\(role)` in \(plan.environment); roles: \(known.sorted().joined(separator: ", "))"
      )
    }
    return Set(plan.hosts.filter { $0.rolePlans.contains { $0.role == role } }.map(\.host.name))
  }

  /// Where `logs` reads: every role's container on every host (prefixed `host/role` when the
  /// plan has roles), or `role`'s alone.
  static func logSources(_ plan: EnvironmentPlan, role: String?) throws -> [ContainerLogs.Source] {
    if let role { _ = try hosts(running: role, in: plan) }
    return plan.hosts.flatMap { host in
      host.rolePlans.filter { role == nil || $0.role == role }.map { entry in
        var target = host.host.sshTarget
        if !host.roles.isEmpty { target.name += "/" + entry.role }
        return ContainerLogs.Source(
          target: target, container: entry.plan.container.name, service: plan.engine.swarm != nil)
      }
    }
  }
}
