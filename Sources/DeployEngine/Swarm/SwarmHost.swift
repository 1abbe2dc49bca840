import DeployConfig
import DeployTransport
import Foundation

/// A swarm environment in a rollout (`engine: swarm`): one `RolloutHost`, its manager. Everything
/// runs there, in the manager's one shell (`DockerHost` carries it, with the lock and the release
/// records): prepare reads the service, install creates or updates it to the release's digest
/// (Swarm replaces the tasks batch by batch, watching each for the monitor window and rolling
/// back on failure), check waits until the service has converged and runs the plan's health
/// check against every task at its node, restore puts the previous release's spec back.
/// deployctl schedules nothing itself.
public final class SwarmHost: RolloutHost {
  public let name: String
  let manager: DockerHost
  let plan: ResolvedPlan
  let settings: SwarmSettings
  let policy: SwarmService.Policy
  let registry: RegistryLogin?
  let progress: ProgressLog
  let stop: StopRequest
  /// The service as prepare found it (nil: there was none).
  private let before = Locked<ServiceState?>(nil)

  public convenience init(
    plan: ResolvedPlan, settings: SwarmSettings, policy: SwarmService.Policy, connections: SSHConnections,
    progress: ProgressLog, stop: StopRequest, registry: RegistryLogin? = nil
  ) throws {
    try self.init(
      plan: plan, settings: settings, policy: policy,
      transport: SSHTransport(target: plan.host.sshTarget, connections: connections), progress: progress,
      stop: stop, registry: registry)
  }

  /// `transport`: how the manager is reached (tests give canned answers).
  public init(
    plan: ResolvedPlan, settings: SwarmSettings, policy: SwarmService.Policy, transport: any HostTransport,
    progress: ProgressLog, stop: StopRequest, registry: RegistryLogin? = nil
  ) throws {
    manager = try DockerHost(
      plan: plan, transport: transport, progress: progress, stop: stop, registry: registry)
    name = plan.host.name
    self.plan = plan
    self.settings = settings
    self.policy = policy
    self.registry = registry
    self.progress = progress
    self.stop = stop
  }

  var remote: RemoteHost { manager.remote }

  public var steps: [StepTiming] { manager.steps }
  var service: String { plan.container.name }

  public func close() async { await manager.close() }

  public func renew(_ holder: LockHolder, ttl: Duration) async -> Bool {
    await manager.renew(holder, ttl: ttl)
  }

  public func prepare(_ request: PrepareRequest) async -> PrepareResult {
    let before = before
    return await manager.prepare(request, observe: SwarmService.inspect(service)) { section in
      let state: ServiceState?
      do {
        state = try ServiceState.parse(section)
      } catch {
        // Not a manager, no swarm, no engine: nothing can change here.
        throw SwarmError.notAManager(host: name, detail: section?.output ?? "\(error)")
      }
      before.withLock { $0 = state }
      return nil
    }
  }

  /// The service as prepare read it: the lock keeps it so until this run changes it.
  public func install(_ plan: InstallPlan) async throws {
    try await apply(
      plan.release.container, over: before.current, secrets: plan.secrets, step: "update service")
  }

  /// The service as it is now.
  private func current() async throws -> ServiceState? {
    try ServiceState.parse(
      try await remote.observe([("service", SwarmService.inspect(service))], step: "read service")["service"])
  }

  /// Creates the service (`current` nil) or updates it from `current` to `spec`, its secrets
  /// first, in one step.
  private func apply(_ spec: ContainerRunSpec, over current: ServiceState?, secrets: [EnvVar], step: String)
    async throws
  {
    _ = try await remote.run(step, applyScript(spec, over: current, secrets: secrets), timeout: .seconds(300))
  }

  func applyScript(_ spec: ContainerRunSpec, over current: ServiceState?, secrets: [EnvVar]) -> RemoteScript {
    let arguments =
      current.map { SwarmService.updateArguments(spec, policy, current: $0) }
      ?? SwarmService.createArguments(spec, policy)
    var script = RemoteScript()
    if !secrets.isEmpty { script.section("secrets", SwarmService.createSecrets(spec, values: secrets)) }
    script.section(
      "service", DockerScripts.authenticated(arguments, login: registry, folder: manager.paths.appDirectory))
    return script
  }

  public func check(_ plan: InstallPlan) async throws {
    try await converge(to: plan.release.container, step: "converge")
    try await health(plan.release.container, step: "health")
  }

  public func restore(_ plan: InstallPlan) async throws {
    if let previous = plan.previous {
      try await apply(
        previous.container, over: try await current(), secrets: [], step: "restore \(previous.id)")
      try await converge(to: previous.container, step: "converge (restored)", interruptible: false)
      try await health(previous.container, step: "health (restored)")
      return
    }
    _ = try await remote.run(
      "restore \(before.current == nil ? "(no service before)" : "the service's previous spec")",
      restoreScript(plan))
  }

  /// Restore with no previous release of deployctl's.
  func restoreScript(_ plan: InstallPlan) -> RemoteScript {
    var script = RemoteScript()
    if let before = before.current {
      // A service deployctl did not create: Swarm's own previous spec comes back, unless Swarm
      // already went back to it.
      let image = RemoteCommand([
        "docker", "service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", service,
      ])
      script.section(
        "rollback",
        image.piped(to: RemoteCommand(["grep", "-qxF", "-e", before.image])).or(
          RemoteCommand(["docker", "service", "rollback", "--detach", "--quiet", service]).quiet))
    } else {
      // This run created the service: it goes, and so do the secrets it made.
      script.section("remove", RemoteCommand(["docker", "service", "rm", service]).quiet)
      script.section(
        "secrets",
        SwarmService.removeSecrets(
          app: plan.release.app, environment: plan.release.environment, releases: [plan.release.id]),
        failure: .isAnswer)
    }
    return script
  }

  public func commit(_ commit: HostCommit) async throws {
    var also: [(String, RemoteCommand)] = []
    if !commit.forget.isEmpty {
      also.append(
        (
          "forget-secrets",
          SwarmService.removeSecrets(
            app: plan.app, environment: plan.environment, releases: commit.forget.map(\.id))
        ))
    }
    try await manager.commit(commit, also: also)
  }

  /// The plan's verification against every running task, at its node's published port (one
  /// task after the other, so a load test measures one task at a time); the first failure is
  /// the result, else the last task's figures.
  public func verify() async -> HostVerification? {
    guard plan.verify != nil else { return nil }
    let running: [SwarmTask]
    do {
      running = try await tasks(running: nil)
    } catch {
      return HostVerification(name: name, passed: false, error: "cannot list the service's tasks: \(error)")
    }
    guard !running.isEmpty else {
      return HostVerification(name: name, passed: false, error: "no task of \(service) is running")
    }
    var last: HostVerification?
    for task in running {
      let result = await manager.verify(at: task.address ?? plan.host.address)
      if var result, !result.passed {
        result.error = "task \(task.name) on \(task.node): " + (result.error ?? "failed")
        return result
      }
      last = result
    }
    return last
  }

  // MARK: Convergence and health

  /// Waits (bounded) until every task runs `spec`'s image and the update is over. Swarm rolling
  /// the update back, or pausing it, is a failure that says Swarm's reason.
  private func converge(to spec: ContainerRunSpec, step: String, interruptible: Bool = true) async throws {
    let image = spec.image.pinned ?? spec.image.description
    // Every batch gets its start, the monitor window and a margin; at least 2 minutes.
    let batches = (policy.replicas + policy.parallelism - 1) / policy.parallelism
    let bound = max(.seconds(120), (policy.monitor + .seconds(30)) * batches * 2)
    try await remote.step(step) {
      let clock = ContinuousClock()
      let deadline = clock.now + bound
      var last = ""
      while true {
        if interruptible, let signal = stop.requested {
          throw RolloutError.unhealthy(
            host: name, reason: "interrupted by \(signal) while the service converged", details: [])
        }
        let read = try await remote.observe(
          [("service", SwarmService.inspect(service)), ("tasks", SwarmTasks.list(service))], step: "poll")
        guard let state = try ServiceState.parse(read["service"]) else {
          throw SwarmError.serviceGone(service)
        }
        let listed = SwarmTasks.parse(read["tasks"]?.output ?? "")
        let failed = listed.compactMap { task in
          task.error.map { "task \(task.name) on \(task.node): \(task.state): \($0)" }
        }.prefix(5).map { $0 }
        if let error = SwarmTasks.rejection(listed, image: image, replicas: policy.replicas) {
          // Swarm goes on placing tasks that fail the same way: waiting changes nothing.
          throw RolloutError.unhealthy(
            host: name, reason: "Swarm rejected every task of \(spec.release): \(error)", details: failed)
        }
        let tasks = listed.filter { $0.desiredState == "running" }
        switch state.updateState {
        case "rollback_started", "rollback_completed", "rollback_paused":
          if state.image != image {
            throw RolloutError.unhealthy(
              host: name,
              reason: "Swarm rolled the update back: \(state.updateMessage ?? "a task failed")",
              details: failed)
          }
        case "paused":
          throw RolloutError.unhealthy(
            host: name, reason: "Swarm paused the update: \(state.updateMessage ?? "")",
            details: failed)
        default: break
        }
        let running = tasks.filter { $0.isRunning && $0.image == image }
        let updating = state.updateState == "updating" || state.updateState == "rollback_started"
        if !updating, state.image == image, running.count == policy.replicas, tasks.count == policy.replicas {
          return
        }
        let now = "\(running.count)/\(policy.replicas) tasks running \(spec.release)"
        if now != last {
          await progress.host(name, step, .note(now))
          last = now
        }
        guard clock.now < deadline else {
          throw RolloutError.unhealthy(
            host: name,
            reason: "the service did not converge within \(ProgressLog.format(bound)): \(now)",
            details: failed)
        }
        // Cancelled: the next round's stop check (or the caller's) ends the wait.
        try? await Task.sleep(for: .milliseconds(500))
      }
    }
  }

  /// The running tasks with their nodes' addresses.
  func tasks(running image: String?) async throws -> [SwarmTask] {
    let read = try await remote.observe(SwarmTasks.reading(service), step: "tasks")
    return SwarmTasks.parse(read).filter {
      $0.desiredState == "running" && $0.isRunning && (image == nil || $0.image == image)
    }
  }

  /// The plan's HTTP check against every task, at its node's published port, all at once.
  private func health(_ spec: ContainerRunSpec, step: String) async throws {
    guard let health = plan.health, case .http(let http) = health.probe else { return }
    let image = spec.image.pinned ?? spec.image.description
    try await remote.step(step) {
      let tasks = try await tasks(running: image)
      let policy = try health.policy()
      let remote = remote
      let managerAddress = plan.host.address
      let failures = await withTaskGroup(of: String?.self) { group in
        for task in tasks {
          group.addTask {
            let address = task.address ?? managerAddress
            let failure: String?
            do {
              let report = try await health.via.reaching(
                http.port, path: http.path, address: address, remoteHost: address,
                forward: { try await remote.forward(remotePort: $0, remoteHost: $1) }
              ) { url in
                try await HealthCheck(policy: policy, http: http.probe(at: url, timeout: health.timeout))
                  .run()
              }
              failure =
                report.healthy
                ? nil : "\(report.reason)" + (report.resultLines.last.map { "; \($0)" } ?? "")
            } catch {
              failure = "\(error)"
            }
            return failure.map { "task \(task.name) on \(task.node) (\(address)): \($0)" }
          }
        }
        var failures: [String] = []
        for await failure in group { if let failure { failures.append(failure) } }
        return failures.sorted()
      }
      if !failures.isEmpty {
        throw RolloutError.unhealthy(
          host: name, reason: "\(failures.count) of \(tasks.count) tasks failed the health check",
          details: failures)
      }
      await progress.host(name, step, .note("\(tasks.count) tasks healthy"))
    }
  }
}

public enum SwarmError: Error, CustomStringConvertible {
  case notAManager(host: String, detail: String)
  case serviceGone(String)

  public var description: String {
    switch self {
    case .notAManager(let host, let detail):
      "\(host) cannot run Swarm commands (is it a manager of the swarm? `docker swarm init` makes one): \(detail)"
    case .serviceGone(let service):
      "the service \(service) disappeared while it converged (removed by hand?)"
    }
  }
}
