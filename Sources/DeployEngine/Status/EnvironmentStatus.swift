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
    self.parallel = plan.readParallelism(parallel)
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
      try await RemoteHost.with(
        plan.host.name, SSHTransport(target: plan.host.sshTarget, connections: connections),
        progress: progress
      ) { remote in
        let paths = try HostPaths(app: plan.app, environment: plan.environment)
        if plan.proxy != nil, plan.roles.isEmpty { return try await proxiedEntry(plan, remote: remote) }
        let roles = plan.rolePlans
        let first = roles.first?.plan ?? plan
        let (snapshot, audit) = try await remote.snapshot(
          paths, containerName: first.container.name, auditLines: auditLines)
        var (health, problem) = try await Self.probe(
          snapshot.container, first, remote: remote, ports: snapshot.current?.container.ports ?? [])
        var current = snapshot.current.flatMap { record in
          snapshot.container?.release == record.id ? record : nil
        }
        var roleStates: [RoleStatus]?
        if !plan.roles.isEmpty {
          // Every role: its container, its own probe; the host is healthy when all are, and runs
          // its current release when all do.
          var states = [
            RoleStatus(
              name: roles[0].role, container: first.container.name, release: snapshot.container?.release,
              state: snapshot.container?.status ?? "absent", health: health)
          ]
          for role in roles.dropFirst() {
            let container = try await remote.inspect(role.plan.container.name)
            let (roleHealth, roleProblem) = try await Self.probe(
              container, role.plan, remote: remote,
              ports: snapshot.current?.container(ofRole: role.role, primary: false)?.ports ?? [])
            states.append(
              RoleStatus(
                name: role.role, container: role.plan.container.name, release: container?.release,
                state: container?.status ?? "absent", health: roleHealth))
            if roleHealth != "healthy" && health == "healthy" {
              health = roleHealth
              problem = roleProblem.map { "role \(role.role): \($0)" } ?? "role \(role.role) is \(roleHealth)"
            }
          }
          if states.contains(where: { $0.release != snapshot.releases.current }) { current = nil }
          roleStates = states
        }
        var status = HostStatus(
          name: plan.host.name, reachable: true, release: snapshot.releases.current,
          image: snapshot.current?.image ?? snapshot.container?.image,
          state: snapshot.container?.status ?? "absent", health: health)
        status.roles = roleStates
        return Entry(status: status, current: current, healthProblem: problem, audit: audit)
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

  /// One probe of `container` with `plan`'s check: `healthy`, `unhealthy` (and why), `none` (no
  /// check: the image's own HEALTHCHECK status, if any) or `none` when it does not exist.
  static func probe(
    _ container: ContainerInfo?, _ plan: ResolvedPlan, remote: RemoteHost, ports: [PortMapping],
    address known: String? = nil
  ) async throws -> (String, String?) {
    guard let container else { return ("none", nil) }
    guard container.running else { return ("unhealthy", nil) }
    guard plan.health != nil else { return (container.health?.status.rawValue ?? "none", nil) }
    var single = plan
    single.health?.retries = 1
    single.health?.startPeriod = .zero
    // Behind the proxy the container publishes no port: probed at its own address (read here
    // unless the caller's reading has it).
    var address: String?
    if plan.proxy != nil {
      var ip = known ?? ""
      if known == nil {
        let answer = try await remote.exec(ProxyScripts.address(of: container.name), timeout: .seconds(30))
        ip = answer.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
      }
      guard !ip.isEmpty else {
        return (
          "unhealthy",
          "\(container.name) has no address on the \(ProxyScripts.network) network, so the proxy cannot reach it"
        )
      }
      address = ip
    }
    let gate = HealthGate(
      containerAddress: address, spec: single.health, address: plan.host.address,
      containerName: container.name, ports: ports, startedID: nil,
      inspect: { try await remote.inspect(container.name) },
      forward: { port, host in try await remote.forward(remotePort: port, remoteHost: host) },
      exec: { command, timeout in try await remote.exec(command, timeout: timeout) })
    let report = try await gate.check(stop: StopRequest())
    return report.healthy
      ? ("healthy", nil) : ("unhealthy", report.lastResults.last?.result.reason ?? report.reason)
  }

  /// `engine: swarm`: the manager's records and the service's tasks, each probed once at its
  /// node. The environment is running when every task runs the current release, healthy when
  /// every task answers.
  private func readSwarm() async -> [Entry] {
    guard let manager = plan.hosts.first else { return [] }
    let connections = SSHConnections()
    let entries: [Entry]
    do {
      let transport = SSHTransport(target: manager.host.sshTarget, connections: connections)
      entries = try await RemoteHost.with(manager.host.name, transport, progress: progress) { remote in
        let name = manager.container.name
        let reading = try await remote.read(
          try HostPaths(app: plan.app, environment: plan.environment),
          observe: [("service", SwarmService.inspect(name))] + SwarmTasks.reading(name),
          auditLines: auditLines)
        let releases = reading.releases
        let service: ServiceState?
        do {
          service = try ServiceState.parse(reading["service"])
        } catch {
          throw SwarmError.notAManager(
            host: manager.host.name, detail: reading["service"]?.output ?? "\(error)")
        }
        let probed = await probe(
          SwarmTasks.parse(reading.observed).filter { $0.desiredState == "running" }, plan: manager,
          remote: remote)
        let tasks = probed.map(\.task)
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
        let problem = probed.first { $0.task.health == "unhealthy" }.map {
          "task \($0.task.name) on \($0.task.node) failed its check" + ($0.problem.map { ": \($0)" } ?? "")
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

  /// One probe per running task, at its node's published port: each task with its verdict and,
  /// when it failed, why.
  private func probe(_ tasks: [SwarmTask], plan: ResolvedPlan, remote: RemoteHost) async -> [(
    task: SwarmTask, problem: String?
  )] {
    guard let health = plan.health, case .http(let http) = health.probe else {
      return tasks.map { ($0, nil) }
    }
    return await withTaskGroup(of: (Int, String?).self) { group in
      for (i, task) in tasks.enumerated() where task.isRunning {
        let address = task.address ?? plan.host.address
        group.addTask {
          do {
            let result = try await health.via.reaching(
              http.port, path: http.path, address: address, remoteHost: address,
              forward: { try await remote.forward(remotePort: $0, remoteHost: $1) }
            ) { url in try await http.probe(at: url, timeout: health.timeout).run() }
            return (i, result.healthy ? nil : result.reason)
          } catch {
            return (i, String(describing: error).firstLine)
          }
        }
      }
      var probed = tasks.map { (task: $0, problem: String?.none) }
      for await (i, problem) in group {
        probed[i].task.health = problem == nil ? "healthy" : "unhealthy"
        probed[i].problem = problem
      }
      return probed
    }
  }
}

extension EnvironmentPlan {
  /// How many hosts a read (`status`, `history`, `lock`) reaches at once: `requested`
  /// (`--parallel`), else every host, up to 64.
  public func readParallelism(_ requested: Int? = nil) -> Int {
    max(1, requested ?? min(max(hosts.count, 1), 64))
  }
}
