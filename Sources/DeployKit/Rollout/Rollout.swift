import Foundation

/// What a rollout is asked to do.
public struct RolloutRequest: Sendable {
  public enum Kind: Sendable {
    /// `deploy ENV --image REF`: a tag is resolved to its digest once, on one host.
    case deploy(ImageReference)
    /// `promote FROM TO`: a digest verified in `from`, where it runs as release `release`.
    case promote(from: String, release: String?, image: ImageReference)
    /// `rollback ENV [--to RELEASE]`: a release kept on the hosts (id, tag or digest), or the
    /// one before the current.
    case rollback(to: String?)
  }

  public var kind: Kind
  public var plan: EnvironmentPlan
  /// Hosts at a time; default: the batch size.
  public var parallel: Int?
  public var dryRun: Bool
  /// Secret values by name, from deployctl's own environment.
  public var secrets: [String: String]
  /// Who runs this (for records, the audit log and the lock).
  public var user: String
  /// What runs, for the lock holder and messages (never carries a secret).
  public var commandLine: String
  /// This run's id, in every audit line it writes (`history` groups hosts by it).
  public var runID: String

  public init(
    kind: Kind, plan: EnvironmentPlan, parallel: Int? = nil, dryRun: Bool = false,
    secrets: [String: String] = [:], user: String, commandLine: String
  ) {
    self.kind = kind
    self.plan = plan
    self.parallel = parallel
    self.dryRun = dryRun
    self.secrets = secrets
    self.user = user
    self.commandLine = commandLine
    self.runID = String(format: "%08x", UInt32.random(in: .min ... .max))
  }

  var commandName: String {
    switch kind {
    case .deploy: "deploy"
    case .promote: "promote"
    case .rollback: "rollback"
    }
  }
}

/// One host's part in a rollout, as the rollout goes.
struct HostRun: Sendable {
  var plan: ResolvedPlan
  var remote: RemoteHost?
  var snapshot: HostSnapshot?
  /// The release to install here.
  var target: ReleaseRecord?
  /// Dry run of a tag not yet resolved: what would run, without a release record.
  var plannedSpec: ContainerRunSpec?
  var result: HostResult?
  var error: String?
  /// The release the host runs now, as far as we know.
  var release: String?
  /// Moved to the new release in this run (so an automatic rollback must put it back).
  var moved = false
  var started = ContinuousClock.now
  var finished: ContinuousClock.Instant?

  var name: String { plan.host.name }
  var failed: Bool { result != nil && result != .deployed && result != .unchanged && result != .planned }
}

/// Rolls one release out to one environment: connect, lock, read what runs, resolve and pull
/// the image everywhere, then replace containers batch by batch with a health check on each
/// host; a host that fails goes back to its previous release at once, and when failures
/// exceed `max_failures` the rollout stops and (with `rollback.auto`) every host it moved goes
/// back too. Each host's outcome is a value; nothing a host does cancels its siblings.
public struct Rollout: Sendable {
  public var request: RolloutRequest
  public var progress: ProgressLog
  public var stop: StopRequest

  public init(request: RolloutRequest, progress: ProgressLog, stop: StopRequest) {
    self.request = request
    self.progress = progress
    self.stop = stop
  }

  var plan: EnvironmentPlan { request.plan }

  public func run() async -> CommandReport {
    let clock = ContinuousClock()
    let start = clock.now
    var hosts = plan.hosts.map { HostRun(plan: $0) }
    var report = CommandReport(
      command: request.commandName, environment: plan.environment, app: plan.app, result: .failed,
      dryRun: request.dryRun)
    if case .promote(let from, _, _) = request.kind { report.promotedFrom = from }
    var lock: EnvironmentLock?
    var refused = false
    do {
      try await execute(&hosts, &report, &lock)
    } catch {
      report.error = String(describing: error)
      let status = (error as? any DeployctlError)?.exitStatus ?? .failedRestored
      report.result = CommandResult(status)
      refused = status == .refused || status == .locked
    }
    if let lock { await lock.release(progress: progress) }
    await SSHSession.closeAll(hosts.compactMap(\.remote?.session))
    report.hosts = hosts.map { host in
      HostReport(
        name: host.name, result: host.result ?? .skipped, release: host.release,
        durationMs: ((host.finished ?? clock.now) - host.started).milliseconds, error: host.error,
        steps: host.remote?.steps ?? [])
    }
    if !refused { report.result = Self.verdict(hosts, dryRun: request.dryRun) }
    report.exitCode = report.result.exitStatus.rawValue
    report.durationMs = (clock.now - start).milliseconds
    return report
  }

  /// 0 when every host runs the release; 3 when a host could not be restored; 1 otherwise.
  static func verdict(_ hosts: [HostRun], dryRun: Bool) -> CommandResult {
    if hosts.contains(where: { $0.result == .restoreFailed }) { return .needsAttention }
    let ok: Set<HostResult> = dryRun ? [.planned, .unchanged] : [.deployed, .unchanged]
    return hosts.allSatisfy { ok.contains($0.result ?? .skipped) } ? .success : .failed
  }

  private func execute(
    _ hosts: inout [HostRun], _ report: inout CommandReport, _ lock: inout EnvironmentLock?
  )
    async throws
  {
    let secrets = try secretValues()
    let maxFailures = plan.rollout.maxFailures
    let parallel = max(1, request.parallel ?? plan.rollout.batch.batches(hostCount: hosts.count).max() ?? 1)
    let fanOut = max(parallel, min(hosts.count, 64))

    // Connect to every host; one session per host for the whole run.
    let connected = await FanOut.run(hosts.map(\.plan), parallel: fanOut, name: { $0.host.name }) { plan in
      let session = try await SSHSession.connect(to: plan.host.sshTarget)
      return RemoteHost(
        name: plan.host.name, session: session,
        paths: try HostPaths(app: plan.app, environment: plan.environment), progress: progress)
    }
    for (i, outcome) in connected.enumerated() {
      switch outcome.result {
      case .success(let remote): hosts[i].remote = remote
      case .failure(let error): fail(&hosts[i], .unreachable, error)
      }
    }
    try checkFailures(hosts, maxFailures, phase: "connecting")

    // Lock, then read what runs everywhere.
    let reachable = hosts.compactMap(\.remote)
    lock = try await EnvironmentLock.acquire(
      on: reachable, environment: plan.environment, app: plan.app, user: request.user,
      command: request.commandLine, progress: progress)
    let snapshots = await Self.each(hosts, where: { $0.remote != nil }, parallel: fanOut) { host in
      try await host.remote!.snapshot(containerName: host.plan.container.name)
    }
    for (i, outcome) in snapshots {
      switch outcome.result {
      case .success(let snapshot):
        hosts[i].snapshot = snapshot
        hosts[i].release = snapshot.releases.current
      case .failure(let error): fail(&hosts[i], .failed, error)
      }
    }
    if let first = hosts.first(where: { $0.snapshot?.current != nil })?.snapshot?.current {
      report.previousRelease = ReleaseRef(id: first.id, image: first.image)
    }
    try checkFailures(hosts, maxFailures, phase: "reading host state")

    // What each host is to run.
    try await chooseTargets(&hosts, &report, secrets: secrets)
    if request.dryRun {
      for i in hosts.indices where hosts[i].result == nil { await describePlan(&hosts[i]) }
      return
    }

    // Pull everywhere before any container changes.
    let pulls = await Self.each(hosts, where: { $0.result == nil }, parallel: fanOut) { host in
      try await host.remote!.pull(host.target!.container.image)
    }
    for (i, outcome) in pulls where outcome.error != nil {
      fail(&hosts[i], .failed, outcome.error!)
    }
    try checkFailures(hosts, maxFailures, phase: "pulling the image")

    // Batch by batch.
    let pending = hosts.indices.filter { hosts[$0].result == nil }
    var stopped: String?
    for batch in plan.rollout.batch.batches(of: pending) {
      if let signal = stop.requested {
        stopped = "interrupted by \(signal)"
        break
      }
      let members = Set(batch)
      let outcomes = await Self.each(
        hosts, where: { host in members.contains(hosts.firstIndex { $0.name == host.name }!) },
        parallel: parallel
      ) { host in
        await self.deploy(host, secrets: secrets)
      }
      for (i, outcome) in outcomes {
        if let run = outcome.value { hosts[i] = run }
      }
      let failures = hosts.filter(\.failed).count
      if failures > maxFailures {
        stopped = "\(failures) host\(failures == 1 ? "" : "s") failed (max_failures: \(maxFailures))"
        break
      }
    }
    if stopped == nil, let signal = stop.requested, hosts.contains(where: { $0.result == nil }) {
      stopped = "interrupted by \(signal)"
    }
    guard let stopped else { return }
    await progress.say("rollout stopped: \(stopped)")
    if plan.rollback.auto {
      await progress.say("rolling back every host this rollout moved")
      let restores = await Self.each(hosts, where: { $0.moved && $0.result == .deployed }, parallel: fanOut) {
        host in
        await self.restore(host, because: "the rollout stopped: \(stopped)", undoing: true)
      }
      for (i, outcome) in restores {
        if let run = outcome.value { hosts[i] = run }
      }
    }
    report.error = "rollout stopped: \(stopped)"
  }

  /// Runs `operation` on the hosts that match, at most `parallel` at a time; each outcome comes
  /// back with the host's index.
  static func each<Value: Sendable>(
    _ hosts: [HostRun], where include: (HostRun) -> Bool, parallel: Int,
    _ operation: @escaping @Sendable (HostRun) async throws -> Value
  ) async -> [(Int, HostOutcome<Value>)] {
    let chosen = hosts.indices.filter { include(hosts[$0]) }
    let outcomes = await FanOut.run(chosen.map { hosts[$0] }, parallel: parallel, name: \.name, operation)
    return Array(zip(chosen, outcomes))
  }

  private func fail(_ host: inout HostRun, _ result: HostResult, _ error: any Error) {
    host.result = result
    host.error = String(describing: error)
    host.finished = .now
  }

  /// Before anything changed: too many hosts already failed means stop here, untouched.
  private func checkFailures(_ hosts: [HostRun], _ maxFailures: Int, phase: String) throws {
    let failed = hosts.filter(\.failed)
    guard failed.count > maxFailures else { return }
    throw RolloutError.hostState(
      host: failed.map(\.name).joined(separator: ", "),
      problem: "failed while \(phase) (max_failures: \(maxFailures)); nothing was changed")
  }

  private func secretValues() throws -> [EnvVar] {
    let names = plan.hosts.first?.container.secrets ?? []
    let missing = names.filter { request.secrets[$0] == nil }
    if !missing.isEmpty, case .rollback = request.kind {
      // A rollback reuses the env files kept on the hosts.
      return []
    }
    guard missing.isEmpty else {
      throw RolloutError.refused(
        "secret\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) not set: export "
          + "\(missing.count == 1 ? "it" : "them") in deployctl's environment (values are never read from files)"
      )
    }
    return names.map { EnvVar($0, request.secrets[$0]!) }
  }
}
