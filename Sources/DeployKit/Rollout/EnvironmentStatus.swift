import Foundation

/// What runs on each host of an environment (`deployctl status`, and the precondition of
/// `promote`): reachable, release, image digest, container state, health (one probe now).
public struct EnvironmentStatus: Sendable {
  public var plan: EnvironmentPlan
  public var progress: ProgressLog
  public var parallel: Int

  public init(plan: EnvironmentPlan, progress: ProgressLog, parallel: Int? = nil) {
    self.plan = plan
    self.progress = progress
    self.parallel = max(1, parallel ?? min(max(plan.hosts.count, 1), 64))
  }

  /// One host's state, with the record of what runs there.
  public struct Entry: Sendable {
    public var status: HostStatus
    public var current: ReleaseRecord?
  }

  public func read() async -> [Entry] {
    let outcomes = await FanOut.run(plan.hosts, parallel: parallel, name: { $0.host.name }) { plan in
      try await SSHSession.with(plan.host.sshTarget) { session in
        let remote = RemoteHost(
          name: plan.host.name, session: session,
          paths: try HostPaths(app: plan.app, environment: plan.environment), progress: progress)
        let snapshot = try await remote.snapshot(containerName: plan.container.name)
        var health = "unknown"
        if let container = snapshot.container, container.running {
          if plan.health == nil {
            health = container.health?.status.rawValue ?? "none"
          } else {
            var single = plan
            single.health?.retries = 1
            single.health?.startPeriod = .zero
            let gate = HealthGate(
              spec: single.health, address: plan.host.address, containerName: container.name,
              ports: snapshot.current?.container.ports ?? [])
            let report = try await gate.check(on: remote, stop: StopRequest())
            health = report.healthy ? "healthy" : "unhealthy"
          }
        } else {
          health = snapshot.container == nil ? "none" : "unhealthy"
        }
        let current = snapshot.current.flatMap { record in
          snapshot.container?.release == record.id ? record : nil
        }
        return Entry(
          status: HostStatus(
            name: plan.host.name, reachable: true, release: snapshot.releases.current,
            image: snapshot.current?.image ?? snapshot.container?.image,
            state: snapshot.container?.status ?? "absent", health: health),
          current: current)
      }
    }
    return outcomes.map { outcome in
      outcome.value
        ?? Entry(
          status: HostStatus(
            name: outcome.host, reachable: false, release: nil, image: nil, state: "unknown",
            health: "unknown",
            error: outcome.error.map { String(describing: $0) }),
          current: nil)
    }
  }
}
