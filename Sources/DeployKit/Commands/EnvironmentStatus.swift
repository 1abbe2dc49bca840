import Foundation

/// What runs on each host of an environment (`deployctl status`, and the precondition of
/// `promote`): reachable, release, image digest, container state, health (one probe now).
public struct EnvironmentStatus: Sendable {
  public var plan: EnvironmentPlan
  public var progress: ProgressLog
  public var parallel: Int
  /// Also read the tail of each host's audit log (for `promote`: since when a release is live).
  public var auditLines: Int

  public init(plan: EnvironmentPlan, progress: ProgressLog, parallel: Int? = nil, auditLines: Int = 0) {
    self.plan = plan
    self.progress = progress
    self.parallel = max(1, parallel ?? min(max(plan.hosts.count, 1), 64))
    self.auditLines = auditLines
  }

  /// One host's state, with the record of what runs there.
  public struct Entry: Sendable {
    public var status: HostStatus
    /// The record of the release the container runs, when it is the host's current release.
    public var current: ReleaseRecord?
    /// Why the one probe failed, when it did.
    public var healthProblem: String?
    /// The last `auditLines` audit entries, oldest first.
    public var audit: [AuditEntry] = []

    /// When the current release last went live here: the newest successful deploy, promote or
    /// rollback of it in the audit log, else its record's creation time.
    public var liveSince: Date? {
      guard let current else { return nil }
      let installs: Set<AuditCommand> = [.deploy, .promote, .rollback]
      return audit.last {
        $0.release == current.id && $0.result == .succeeded && installs.contains($0.command)
      }?
      .time ?? current.createdAt
    }
  }

  public func read() async -> [Entry] {
    let connections = SSHConnections()
    let outcomes = await FanOut.run(plan.hosts, parallel: parallel, name: { $0.host.name }) { plan in
      try await connections.with(plan.host.sshTarget) { session in
        let remote = RemoteHost(
          name: plan.host.name, connections: connections, target: plan.host.sshTarget,
          paths: try HostPaths(app: plan.app, environment: plan.environment), progress: progress)
        let snapshot = try await remote.snapshot(containerName: plan.container.name)
        var health = "unknown"
        var problem: String?
        if let container = snapshot.container, container.running {
          if plan.health == nil {
            health = container.health?.status.rawValue ?? "none"
          } else {
            var single = plan
            single.health?.retries = 1
            single.health?.startPeriod = .zero
            let gate = HealthGate(
              spec: single.health, address: plan.host.address, containerName: container.name,
              ports: snapshot.current?.container.ports ?? [], startedID: nil,
              inspect: { try await remote.inspect(container.name) },
              forward: { port, host in
                try await remote.liveSession().forward(remotePort: port, remoteHost: host)
              })
            let report = try await gate.check(stop: StopRequest())
            health = report.healthy ? "healthy" : "unhealthy"
            if !report.healthy { problem = report.lastResults.last?.result.reason ?? report.reason }
          }
        } else {
          health = snapshot.container == nil ? "none" : "unhealthy"
        }
        var audit: [AuditEntry] = []
        if auditLines > 0 {
          let result = try await remote.run(
            HostState.readAudit(remote.paths, lines: auditLines), "read audit log")
          audit = AuditEntry.parseLines(result.stdout)
        }
        let current = snapshot.current.flatMap { record in
          snapshot.container?.release == record.id ? record : nil
        }
        return Entry(
          status: HostStatus(
            name: plan.host.name, reachable: true, release: snapshot.releases.current,
            image: snapshot.current?.image ?? snapshot.container?.image,
            state: snapshot.container?.status ?? "absent", health: health),
          current: current, healthProblem: problem, audit: audit)
      }
    }
    await connections.closeAll()
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
