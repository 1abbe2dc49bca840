import DeployConfig
import DeployTransport
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
    if plan.engine.swarm != nil { return await readSwarm() }
    let connections = SSHConnections()
    let outcomes = await FanOut.run(plan.hosts, parallel: parallel, name: { $0.host.name }) { plan in
      try await connections.with(plan.host.sshTarget) { session in
        let remote = RemoteHost(
          name: plan.host.name, connections: connections, target: plan.host.sshTarget,
          paths: try HostPaths(app: plan.app, environment: plan.environment), progress: progress)
        let (snapshot, audit) = try await remote.snapshot(
          containerName: plan.container.name, auditLines: auditLines)
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

  /// `engine: swarm`: the manager's records and the service's tasks, each probed once at its
  /// node. The environment is running when every task runs the current release, healthy when
  /// every task answers.
  private func readSwarm() async -> [Entry] {
    guard let manager = plan.hosts.first else { return [] }
    let connections = SSHConnections()
    let entries: [Entry]
    do {
      entries = try await connections.with(manager.host.sshTarget) { session in
        let remote = RemoteHost(
          name: manager.host.name, connections: connections, target: manager.host.sshTarget,
          paths: try HostPaths(app: plan.app, environment: plan.environment), progress: progress)
        let name = manager.container.name
        let reading = try await remote.read(
          [
            ("service", SwarmService.inspect(name)),
            ("tasks", SwarmTasks.list(name)), ("nodes", SwarmTasks.nodes),
          ], auditLines: auditLines)
        let releases = reading.releases
        let output = reading.output
        let service = try? ServiceState.parse(output["service"])
        var tasks = SwarmTasks.parse(
          output["tasks"]?.output ?? "", nodes: SwarmTasks.parseNodes(output["nodes"]?.output ?? "")
        ).filter { $0.desiredState == "running" }
        tasks = await probe(tasks, plan: manager, session: session)
        let current = releases.currentRecord
        let replicas = service?.replicas ?? 0
        let onRelease = service != nil && service?.release == current?.id && current != nil
        let running = tasks.filter { $0.isRunning }.count
        let state =
          service == nil
          ? "absent" : running == replicas && onRelease ? "running" : "\(running)/\(replicas) running"
        var health = "none"
        if case .http? = manager.health?.probe {
          health = !tasks.isEmpty && tasks.allSatisfy({ $0.health == "healthy" }) ? "healthy" : "unhealthy"
        } else if service != nil {
          health = running == replicas && replicas > 0 ? "healthy" : "unhealthy"
        }
        var status = HostStatus(
          name: manager.host.name, reachable: true, release: releases.current,
          image: current?.image ?? service?.image, state: state, health: health)
        status.tasks = tasks
        let problem = tasks.first { $0.health == "unhealthy" }.map {
          "task \($0.name) on \($0.node) failed its check"
        }
        return [
          Entry(
            status: status, current: onRelease && state == "running" ? current : nil, healthProblem: problem,
            audit: reading.audit)
        ]
      }
    } catch {
      entries = [
        Entry(
          status: HostStatus(
            name: manager.host.name, reachable: false, release: nil, image: nil, state: "unknown",
            health: "unknown", error: String(describing: error)),
          current: nil)
      ]
    }
    await connections.closeAll()
    return entries
  }

  /// One probe per running task, at its node's published port.
  private func probe(_ tasks: [SwarmTask], plan: ResolvedPlan, session: SSHSession) async -> [SwarmTask] {
    guard let health = plan.health, case .http(let http) = health.probe else { return tasks }
    return await withTaskGroup(of: (Int, String).self) { group in
      for (i, task) in tasks.enumerated() where task.isRunning {
        let address = task.address ?? plan.host.address
        group.addTask {
          let reached = try? await health.via.reach(
            http.port, path: http.path, address: address, remoteHost: address
          ) { port, host in try await session.forward(remotePort: port, remoteHost: host) }
          guard let reached else { return (i, "unhealthy") }
          let result = try? await HTTPProbe(
            url: reached.url, expectStatus: http.expectStatus, bodyContains: http.bodyContains,
            timeout: health.timeout
          ).run()
          await reached.forward?.close()
          return (i, result?.healthy == true ? "healthy" : "unhealthy")
        }
      }
      var probed = tasks
      for await (i, verdict) in group { probed[i].health = verdict }
      return probed
    }
  }
}
