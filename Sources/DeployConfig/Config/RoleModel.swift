/// One role of a plan with `roles:` on one host: a container of the app's image with its own
/// command, health check, container keys and proxy (docs/configuration.md "Roles"). Every role
/// of an app moves to the same release in one deploy, promote or rollback.
public struct RolePlan: Sendable, Hashable {
  public var name: String
  /// Named `<name>-<role>` unless the role names it.
  public var container: ContainerSpec
  public var health: HealthSpec?
  public var proxy: ProxySpec?

  public init(name: String, container: ContainerSpec, health: HealthSpec?, proxy: ProxySpec?) {
    self.name = name
    self.container = container
    self.health = health
    self.proxy = proxy
  }
}

extension ResolvedPlan {
  /// This host's plan as one role sees it: the role's container, health and proxy in place of
  /// the plan's, and no roles.
  public func forRole(_ role: RolePlan) -> ResolvedPlan {
    var plan = self
    plan.container = role.container
    plan.health = role.health
    plan.proxy = role.proxy
    plan.roles = []
    return plan
  }

  /// The role plans this host runs: its roles, or the plan itself as the one role `web`.
  public var rolePlans: [(role: String, plan: ResolvedPlan)] {
    roles.isEmpty ? [("web", self)] : roles.map { ($0.name, forRole($0)) }
  }
}
