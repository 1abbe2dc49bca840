import DeployConfig
import DeployTransport
import Foundation

/// A host that runs several roles of one app (`roles:`, docs/configuration.md "Roles"): one
/// `DockerHost` per role, each on its own shell of the host's one SSH connection. The first role
/// takes the environment's lock, reads the releases, pulls and writes the release record (which
/// holds every role's container); the others read their own container. A role that fails fails
/// the host, and a restore puts every role that moved back.
public final class RolesHost: RolloutHost {
  public let name: String
  let units: [(role: String, host: DockerHost)]
  /// What each role's container was before this run (index as `units`).
  private let replacing = Locked<[Int: ContainerInfo]>([:])
  /// The roles `install` reached, in order: what `restore` undoes.
  private let moved = Locked<[Int]>([])

  public init(
    plan: ResolvedPlan, connections: SSHConnections, progress: ProgressLog, stop: StopRequest,
    registry: RegistryLogin? = nil
  ) throws {
    name = plan.host.name
    units = try plan.rolePlans.enumerated().map { i, role in
      let host = try DockerHost(
        plan: role.plan, connections: connections, progress: progress, stop: stop, registry: registry)
      host.secondary = i > 0
      return (role.role, host)
    }
  }

  public var steps: [StepTiming] { units.flatMap { $0.host.steps } }

  public func close() async {
    for unit in units { await unit.host.close() }
  }

  public func prepare(_ request: PrepareRequest) async -> PrepareResult {
    guard let first = units.first else { return PrepareResult(outcome: .ready) }
    let result = await first.host.prepare(request)
    guard case .ready = result.outcome else { return result }
    replacing.withLock { $0[0] = result.snapshot?.container }
    for (i, unit) in units.enumerated().dropFirst() {
      var own = request
      own.pull = nil
      let answer = await unit.host.prepare(own)
      guard case .ready = answer.outcome else { return answer }
      replacing.withLock { $0[i] = answer.snapshot?.container }
    }
    return result
  }

  /// `plan` as role `i` sees it: its container in the release and in the one before.
  func plan(_ plan: InstallPlan, role i: Int) -> InstallPlan {
    let role = units[i].role
    var own = plan
    own.release.container = plan.release.container(ofRole: role, primary: i == 0) ?? plan.release.container
    own.previous = plan.previous.flatMap { previous in
      previous.container(ofRole: role, primary: i == 0).map { container in
        var record = previous
        record.container = container
        return record
      }
    }
    own.replacing = replacing.current[i]
    return own
  }

  public func install(_ plan: InstallPlan) async throws {
    for i in units.indices {
      moved.withLock { $0.append(i) }
      try await units[i].host.install(self.plan(plan, role: i))
    }
  }

  /// The release command runs once, in a container like the first role's.
  public func runRelease(_ plan: InstallPlan, command: ReleaseCommandSpec) async throws {
    try await units.first?.host.runRelease(self.plan(plan, role: 0), command: command)
  }

  public func check(_ plan: InstallPlan) async throws {
    for i in units.indices {
      do {
        try await units[i].host.check(self.plan(plan, role: i))
      } catch {
        throw RoleFailure(role: units[i].role, error: error)
      }
    }
  }

  /// Every role that moved goes back, the last first; the first failure is reported once all
  /// were tried.
  public func restore(_ plan: InstallPlan) async throws {
    var failure: (any Error)?
    for i in moved.current.reversed() {
      do {
        try await units[i].host.restore(self.plan(plan, role: i))
      } catch {
        failure = failure ?? RoleFailure(role: units[i].role, error: error)
      }
    }
    moved.withLock { $0 = [] }
    if let failure { throw failure }
  }

  public func commit(_ commit: HostCommit) async throws {
    try await units.first?.host.commit(commit)
  }

  public func verify() async -> HostVerification? {
    await units.first?.host.verify()
  }

  public func renew(_ holder: LockHolder, ttl: Duration) async -> Bool {
    await units.first?.host.renew(holder, ttl: ttl) ?? true
  }
}

/// A role's failure, named (`worker: health check failed: …`).
struct RoleFailure: Error, CustomStringConvertible {
  var role: String
  var error: any Error
  var description: String { "role \(role): \(error)" }
}

extension ReleaseRecord {
  /// Role `role`'s container in this release: from `roles` when the record has them; a record
  /// without roles (a plan without `roles:`, or older) has only the first role's, `container`.
  public func container(ofRole role: String, primary: Bool) -> ContainerRunSpec? {
    if let roles { return roles.first { $0.name == role }?.container }
    return primary ? container : nil
  }
}
