import DeployConfig
import DeployTransport
import Foundation

/// Carries out a `RolloutMachine`'s actions on any `RolloutHost`s (Docker over SSH, or a fake).
/// `dispatch` starts an action (a host step becomes a task of the steps group); `absorb` turns a
/// finished step into what the engine knows and the machine's next event. The run ends when the
/// group has no step under way and the machine nothing left to start. Each host's outcome is a
/// value; nothing a host does cancels its siblings.
public struct RolloutEngine: Sendable {
  public typealias Action = RolloutMachine.Action
  public typealias Event = RolloutMachine.Event

  public var request: RolloutRequest
  public var hosts: [any RolloutHost]
  public var progress: ProgressLog
  public var stop: StopRequest
  public var holder: LockHolder
  /// The plan's `pre_deploy` hook, run once every host is read and the release is known, before
  /// any host changes; a failed one refuses the run (exit 2).
  public var preDeploy: (@Sendable (CommandReport) async -> HookResult?)?
  /// `verify.prometheus`'s URL, a secret's value when the plan names one (nil: the plan's own
  /// `url:`).
  public var prometheusURL: String?
  /// A port forward through the first host's SSH connection, for `verify.prometheus.via: ssh`.
  public var forward: (@Sendable (_ port: Int, _ host: String) async throws -> PortForward)?

  public init(
    request: RolloutRequest, hosts: [any RolloutHost], progress: ProgressLog, stop: StopRequest,
    holder: LockHolder? = nil
  ) {
    self.request = request
    self.hosts = hosts
    self.progress = progress
    self.stop = stop
    self.holder = holder ?? LockHolder.current(user: request.user, command: request.commandLine)
  }

  var plan: EnvironmentPlan { request.plan }

  /// One run's end: its report, and the locks other runs hold when it was refused for them
  /// (`--lock-wait` waits on those).
  struct Outcome: Sendable {
    var report: CommandReport
    var heldLocks: [HeldLock]
  }

  /// A host step's result, as the steps group hands it back.
  private enum StepOutcome: Sendable {
    case prepared(Int, PrepareResult)
    case stepped(Event)
    case verified([(Int, HostVerification?)], PrometheusVerification?)
    case released(Int, ReleaseCommandReport)
  }

  /// What the engine knows per host as it goes.
  private struct HostFacts: Sendable {
    var snapshot: HostSnapshot?
    var pulled: ImageDigest?
    var install: InstallPlan?
    var verification: HostVerification?
    var started = ContinuousClock.now
    var finished: ContinuousClock.Instant?
  }

  /// One run as it goes: the machine's decisions, what is known per host, the report so far.
  private struct RunState {
    var machine: RolloutMachine
    var facts: [HostFacts]
    var report: CommandReport
    var secrets: [EnvVar] = []
    /// The bake window's results, when `verify.prometheus` ran.
    var prometheus: PrometheusVerification?
    let started = ContinuousClock.now
    /// Hosts where this run holds the lock: their lease is renewed while the run goes on.
    let renewals = LeaseRenewals()
  }

  public func run() async -> CommandReport { await execute().report }

  func execute() async -> Outcome {
    var report = CommandReport(
      command: request.commandName, environment: plan.environment, app: plan.app, result: .failed,
      dryRun: request.dryRun)
    if case .promote(let from, _, _) = request.kind { report.promotedFrom = from }
    let batchSizes = plan.rollout.batch.batches(hostCount: hosts.count)
    var settings = RolloutMachine.Settings(
      batch: plan.rollout.batch, maxFailures: plan.rollout.maxFailures, autoRollback: plan.rollback.auto,
      parallel: request.parallel ?? batchSizes.max(), dryRun: request.dryRun)
    settings.releaseCommand = request.runsReleaseCommand
    var run = RunState(
      machine: RolloutMachine(hostCount: hosts.count, settings: settings),
      facts: Array(repeating: HostFacts(), count: hosts.count), report: report)
    do {
      run.secrets = try secretValues()
    } catch {
      report.result = .refused
      report.error = String(describing: error)
      report.exitCode = ExitStatus.refused.rawValue
      return Outcome(report: report, heldLocks: [])
    }
    let renewals = run.renewals
    await withDiscardingTaskGroup { companions in
      companions.addTask { await sayStop() }
      companions.addTask { await renewLeases(renewals) }
      await drive(&run)
      companions.cancelAll()
    }
    return await finish(run)
  }

  /// Starts the machine's actions and feeds it every finished step, until it is done.
  private func drive(_ run: inout RunState) async {
    await withTaskGroup(of: StepOutcome.self) { steps in
      var pending = run.machine.start()
      while true {
        while !pending.isEmpty {
          let action = pending.removeFirst()
          pending += await dispatch(action, &run, &steps)
        }
        guard !run.machine.isFinished, let outcome = await steps.next() else { break }
        // A signal is heard before the outcome that follows it, so nothing new starts after it.
        // (Read here rather than from `requests()`: two streams could deliver in either order.)
        if let signal = stop.requested, run.machine.interruption == nil {
          pending += run.machine.handle(.interrupted(signal))
        }
        pending += await absorb(outcome, &run)
      }
    }
  }

  /// Starts one action: a host step as a task of `steps`; `choose` (and a verification with
  /// nothing to check) at once, returning what the machine does next.
  private func dispatch(
    _ action: Action, _ run: inout RunState, _ steps: inout TaskGroup<StepOutcome>
  ) async -> [Action] {
    switch action {
    case .prepare(let i, let attempt):
      let host = hosts[i]
      let prepare = PrepareRequest(
        holder: holder, pull: imageToPull, attempt: attempt, ttl: plan.lockTTL, run: request.runID)
      steps.addTask {
        // Asked again after another run held the lock: a pause that grows with each attempt.
        // (`try?`: only cancellation ends it early, and nothing cancels a step.)
        if attempt > 0 { try? await Task.sleep(for: .milliseconds(100 * min(attempt, 10))) }
        return .prepared(i, await host.prepare(prepare))
      }
    case .choose:
      return run.machine.handle(await choose(&run))
    case .release(let i):
      guard let command = plan.releaseCommand, let install = run.facts[i].install else {
        return run.machine.handle(.released(failure: nil))
      }
      let host = hosts[i]
      steps.addTask { .released(i, await Self.runRelease(host, install, command)) }
    case .install(let i):
      run.facts[i].started = .now
      start(i, run, &steps) { host, plan in
        .installed(host: i, failure: await failure(.install) { try await host.install(plan) })
      }
    case .check(let i):
      start(i, run, &steps) { host, plan in
        .checked(host: i, failure: await failure(.check) { try await host.check(plan) })
      }
    case .restore(let i, _):
      if case .restoring(let reason) = run.machine.phases[i] {
        await progress.host(hosts[i].name, "failed", .note(reason.description))
      }
      start(i, run, &steps) { host, plan in
        .restored(host: i, failure: await failure(.restore) { try await host.restore(plan) })
      }
    case .verify(let members):
      // Smoke and load checks come with `verify:`; without it there is nothing to check.
      let checksHosts = plan.hosts.contains { $0.verify?.checksHosts ?? false }
      let analysis = prometheusAnalysis(release: run.report.release?.id)
      guard checksHosts || analysis != nil else {
        return run.machine.handle(.verified(failedOn: []))
      }
      let chosen = members.map { ($0, hosts[$0]) }
      steps.addTask {
        let results = checksHosts ? await Self.verify(chosen) : []
        // The bake window comes after every host's checks passed, once for the environment.
        let hostsPassed = results.allSatisfy { $0.1?.passed ?? true }
        return .verified(results, hostsPassed ? await analysis?.run() : nil)
      }
    case .commit(let i):
      let commit = commit(i, &run)
      let host = hosts[i]
      let renewals = run.renewals
      steps.addTask {
        // The commit releases the lock: no renewal may write a lease file after that.
        await renewals.stop(i)
        return .stepped(
          .committed(host: i, failure: await failure(.commit) { try await host.commit(commit) }))
      }
    }
    return []
  }

  /// Starts a step on host `i` with its install plan.
  private func start(
    _ i: Int, _ run: RunState, _ steps: inout TaskGroup<StepOutcome>,
    _ step: @escaping @Sendable (any RolloutHost, InstallPlan) async -> Event
  ) {
    guard let plan = run.facts[i].install else { return }
    let host = hosts[i]
    steps.addTask { .stepped(await step(host, plan)) }
  }

  /// A finished step: what the engine learns from it, and what the machine does next.
  private func absorb(_ outcome: StepOutcome, _ run: inout RunState) async -> [Action] {
    switch outcome {
    case .prepared(let i, let result):
      run.facts[i].snapshot = result.snapshot
      run.facts[i].pulled = result.pulled
      switch result.outcome {
      case .ready:
        await run.renewals.hold(i)
      case .failed(_, let failure):
        run.facts[i].finished = .now
        await progress.host(hosts[i].name, "failed", .note(failure.message))
      case .locked:
        break
      }
      return run.machine.handle(.prepared(host: i, result.outcome))
    case .released(let i, let result):
      run.report.releaseCommand = result
      guard result.result == .succeeded else {
        await progress.host(hosts[i].name, "release command", .note(result.error ?? "failed"))
        return run.machine.handle(.released(failure: result.error ?? "failed"))
      }
      // Every host's record says so: a promote of this digest does not run it again.
      for j in run.facts.indices { run.facts[j].install?.release.releaseCommandRan = true }
      return run.machine.handle(.released(failure: nil))
    case .verified(let results, let metrics):
      for (i, result) in results { run.facts[i].verification = result }
      let checked = results.compactMap(\.1)
      for result in checked { await progress.host(result.name, "verify", .note(result.outcome)) }
      run.prometheus = metrics
      if let metrics {
        await progress.say(
          "prometheus: \(metrics.passed ? "passed" : "failed"): " + metrics.summary.joined(separator: "; "))
      }
      return run.machine.handle(
        .verified(failedOn: checked.filter { !$0.passed }.map(\.name), metrics: metrics?.failure))
    case .stepped(let event):
      switch event {
      case .checked(let i, nil), .restored(let i, _): run.facts[i].finished = .now
      default: break
      }
      return run.machine.handle(event)
    }
  }

  /// What host `i` records as the run ends, from how it ended.
  private func commit(_ i: Int, _ run: inout RunState) -> HostCommit {
    let phase = run.machine.phases[i]
    if run.facts[i].finished == nil, Self.isChange(phase) { run.facts[i].finished = .now }
    return RolloutDecisions.commit(
      request, phase: phase, target: run.facts[i].install?.release,
      snapshot: run.facts[i].snapshot
        ?? HostSnapshot(releases: HostReleases(current: nil, records: [], unreadable: [])),
      holder: holder, keep: plan.rollback.keep,
      verified: Self.verified(host: run.facts[i].verification?.passed, metrics: run.prometheus?.passed))
  }

  /// What the record's `verified` says: every check that ran passed (the host's and the
  /// environment's Prometheus analysis); nil when none ran.
  static func verified(host: Bool?, metrics: Bool?) -> Bool? {
    if host == nil && metrics == nil { return nil }
    return (host ?? true) && (metrics ?? true)
  }

  /// The bake window of `verify.prometheus`, if the plan has one.
  private func prometheusAnalysis(release: String?) -> PrometheusAnalysis? {
    guard let spec = plan.hosts.first?.verify?.prometheus else { return nil }
    let url: String
    switch spec.url {
    case .literal(let literal): url = prometheusURL ?? literal
    case .secret: url = prometheusURL ?? ""
    }
    let progress = progress
    return PrometheusAnalysis(
      spec: spec, url: url,
      variables: ["app": plan.app, "environment": plan.environment, "release": release ?? ""], stop: stop,
      forward: forward,
      observe: { name, measurement in
        let value = measurement.value.map { PrometheusQueryResult.format($0) } ?? "no value"
        await progress.say(
          "prometheus \(name): \(measurement.passed ? value : measurement.error ?? value)"
            + (measurement.passed ? "" : " (failed measurement)"))
      })
  }

  /// The environment's verification on each of `hosts`, at once, in host order.
  private static func verify(_ hosts: [(Int, any RolloutHost)]) async -> [(Int, HostVerification?)] {
    await withTaskGroup(of: (Int, HostVerification?).self) { checks in
      for (i, host) in hosts { checks.addTask { (i, await host.verify()) } }
      var all: [(Int, HostVerification?)] = []
      for await result in checks { all.append(result) }
      return all.sorted { $0.0 < $1.0 }
    }
  }

  /// Says at once that a signal came; the machine hears it with the next outcome (nothing new
  /// can start before one).
  private func sayStop() async {
    for await signal in stop.requests() {
      await progress.say("\(signal): finishing the steps under way, then putting moved hosts back")
    }
  }

  /// Renews the lease on every host where this run holds the lock, every third of the TTL, on a
  /// channel of its own so no step waits for it; ends when the run does (cancelled).
  private func renewLeases(_ renewals: LeaseRenewals) async {
    let ttl = plan.lockTTL
    while true {
      do { try await Task.sleep(for: ttl / 3) } catch { return }
      let round = await renewals.start { [holder, hosts] i in
        Task { await hosts[i].renew(holder, ttl: ttl) }
      }
      for (i, renewal) in round {
        let kept = await renewal.value
        await renewals.ended(i)
        if !kept {
          await progress.host(
            hosts[i].name, "lock", .note("the lock is no longer ours: another run took it over"))
        }
      }
    }
  }

  /// The image every host pulls while it is prepared: a deploy's or promote's (a dry run pulls
  /// nothing); none for a rollback.
  private var imageToPull: ImageReference? {
    switch request.kind {
    case .deploy(let image), .promote(_, _, let image): request.dryRun ? nil : image
    case .rollback: nil
    }
  }

  private static func isChange(_ phase: RolloutMachine.Phase) -> Bool {
    switch phase {
    case .healthy, .restored, .restoreFailed: true
    default: false
    }
  }
}

/// nil when `body` succeeds, else what went wrong in `step`.
private func failure(_ step: HostFailure.Step, _ body: () async throws -> Void) async -> HostFailure? {
  do {
    try await body()
    return nil
  } catch {
    return HostFailure(step, error)
  }
}

// MARK: Choosing the targets

extension RolloutEngine {
  /// Every host is prepared: decide each one's target (or refuse), run `pre_deploy`, and in a dry
  /// run say what would change.
  private func choose(_ run: inout RunState) async -> Event {
    var snapshots: [Int: HostSnapshot] = [:]
    for (i, facts) in run.facts.enumerated() {
      if let snapshot = facts.snapshot { snapshots[i] = snapshot }
    }
    let targets: RolloutDecisions.Targets
    do {
      targets = try await decide(snapshots, &run)
    } catch {
      return .chosen(refusal: String(describing: error), settled: [:])
    }
    if let refusal = await runPreDeploy(snapshots, &run.report) {
      return .chosen(refusal: refusal, settled: [:])
    }
    if request.dryRun {
      for (i, snapshot) in snapshots.sorted(by: { $0.key < $1.key }) {
        await describe(i, snapshot: snapshot, spec: targets.planned[i] ?? targets.releases[i]?.container)
      }
    }
    return .chosen(refusal: nil, settled: [:])
  }

  /// Each host's target and install plan; the release in the report.
  private func decide(_ snapshots: [Int: HostSnapshot], _ run: inout RunState) async throws
    -> RolloutDecisions.Targets
  {
    var resolved: ImageDigest?
    if case .deploy(let image) = request.kind, image.digest == nil {
      // The tag as the first host's registry answer had it: every host gets that digest.
      resolved = snapshots.keys.sorted().compactMap { run.facts[$0].pulled }.first
      if let resolved {
        await progress.say(
          "\(image) is \(image.resolved(to: resolved).pinned ?? "?"): every host gets this digest")
      }
    }
    let secrets = run.secrets
    let envFileContent = secrets.isEmpty ? nil : try EnvFile.render(secrets)
    let targets = try RolloutDecisions.targets(
      request, snapshots: snapshots, plans: plan.hosts, resolved: resolved,
      envFile: { [request] plan, id in
        if case .rollback = request.kind { return nil }
        return secrets.isEmpty ? nil : try HostPaths(app: plan.app, environment: plan.environment).envFile(id)
      })
    run.report.release = targets.release
    for (i, release) in targets.releases {
      run.facts[i].install = InstallPlan(
        release: release, previous: snapshots[i]?.current, replacing: snapshots[i]?.container,
        envFile: release.container.envFile == nil ? nil : envFileContent)
      if release.container.envFile != nil { run.facts[i].install?.secrets = secrets }
      if inheritsReleaseCommand { run.facts[i].install?.release.releaseCommandRan = true }
    }
    let changing = Set(targets.releases.keys).union(targets.planned.keys)
    await sayReleaseCommand(&run.report, first: changing.min().map { hosts[$0].name })
    return targets
  }

  /// Runs `pre_deploy`, if there is one; a failed hook is the run's refusal.
  private func runPreDeploy(_ snapshots: [Int: HostSnapshot], _ report: inout CommandReport) async -> String?
  {
    guard let preDeploy, let first = snapshots.keys.min() else { return nil }
    if let current = snapshots[first]?.current {
      report.previousRelease = ReleaseRef(id: current.id, image: current.image)
    }
    guard let result = await preDeploy(report) else { return nil }
    report.hooks.append(result)
    guard result.result == .failed else { return nil }
    return "pre_deploy hook failed: \(result.error ?? "exit \(result.exitStatus ?? -1)"); nothing was changed"
  }

  /// Dry run: what runs now and what would change.
  private func describe(_ i: Int, snapshot: HostSnapshot, spec: ContainerRunSpec?) async {
    guard let spec else { return }
    let name = hosts[i].name
    let now =
      snapshot.current.map { "release \($0.id) \($0.image)" }
      ?? snapshot.container.map { "container \($0.name) (\($0.image), not deployed by deployctl)" }
      ?? "nothing of ours"
    let same = snapshot.current?.digest != nil && snapshot.current?.digest == spec.image.digest
    await progress.host(name, "now", .note(now))
    if let container = snapshot.container, !container.isRelease(of: spec) {
      await progress.host(
        name, "would keep",
        .note("\(container.name), stopped, as \(DockerScripts.parkedName(container.name))"))
    }
    if let settings = plan.engine.swarm {
      // The service's spec as create words (an update sets the same values).
      let policy = SwarmService.Policy(plan: plan, settings: settings, registryAuth: plan.registry != nil)
      await progress.host(
        name, same ? "would update service (same digest)" : "would update service",
        .note(ShellQuote.join(["docker"] + SwarmService.createArguments(spec, policy))))
      return
    }
    if let proxy = plan.host(named: name)?.proxy {
      await describeBehindProxy(name, proxy, spec: spec, snapshot: snapshot)
      return
    }
    await progress.host(
      name, same ? "would re-run (same digest)" : "would run",
      .note(ShellQuote.join(DockerCommand.runArguments(spec))))
  }

  /// Dry run behind the proxy: the blue-green steps, in order.
  private func describeBehindProxy(
    _ name: String, _ proxy: ProxySpec, spec: ContainerRunSpec, snapshot: HostSnapshot
  )
    async
  {
    let started = DockerHost.releaseContainer(spec.name, spec.release)
    let ports = [proxy.httpPort, proxy.httpsPort]
    await progress.host(
      name, "would ensure proxy",
      .note(
        "\(ProxyScripts.containerName) (\(proxy.image)) on network \(ProxyScripts.network), publishing \(ports.map(String.init).joined(separator: ", ")), if it is not running"
      ))
    await progress.host(
      name, "would start beside",
      .note(ShellQuote.join(DockerCommand.runArguments(spec.behindProxy(as: started)))))
    await progress.host(
      name, "would check",
      .note("\(started) at its address on \(ProxyScripts.network), port \(proxy.appPort)"))
    let route = ProxyRoute(plan: plan.hosts[0], proxy: proxy, container: started, release: spec.release)
    await progress.host(
      name, "would switch route",
      .note(
        "\(route.claims.map(ProxySpec.describe(claim:)).joined(separator: ", ")) → \(route.upstream)"
      ))
    if let current = snapshot.container {
      await progress.host(
        name, "would drain and stop",
        .note(
          "\(current.name): requests in flight get up to \(proxy.drain.configText), then it stops and is kept for a rollback"
        ))
    }
  }

  private func secretValues() throws -> [EnvVar] {
    let names = plan.hosts.first?.container.secrets ?? []
    var values: [EnvVar] = []
    var missing: [String] = []
    for name in names {
      if let value = request.secrets[name] {
        values.append(EnvVar(name, value))
      } else {
        missing.append(name)
      }
    }
    // A rollback reuses the env files kept on the hosts.
    if !missing.isEmpty, case .rollback = request.kind { return [] }
    guard missing.isEmpty else { throw RolloutError.secretsNotSet(missing) }
    return values
  }
}

// MARK: The report

extension RolloutEngine {
  /// The run's report from how the machine ended and what the engine learned.
  private func finish(_ run: RunState) async -> Outcome {
    var report = run.report
    var held: [HeldLock] = []
    switch run.machine.refusal {
    case .locked(let locks):
      held = locks
      report.error =
        RolloutError.locked(environment: plan.environment, app: plan.app, holders: locks.map(\.description))
        .description
    case .refused(let reason):
      report.error = reason
    case nil:
      if let stopped = run.machine.stopped {
        report.error = "rollout stopped: \(stopped)"
        await progress.say("rollout stopped: \(stopped)")
      }
    }
    if let first = run.facts.lazy.compactMap({ $0.snapshot?.current }).first {
      report.previousRelease = ReleaseRef(id: first.id, image: first.image)
    }
    let now = ContinuousClock.now
    report.hosts = hosts.indices.map { hostReport($0, run, now: now) }
    let verified = run.facts.compactMap(\.verification)
    if !verified.isEmpty || run.prometheus != nil {
      report.verification = VerificationReport(
        via: plan.hosts.first?.verify?.via ?? .ssh, hosts: verified, prometheus: run.prometheus)
    }
    report.result = run.machine.verdict
    report.exitCode = report.result.exitStatus.rawValue
    report.durationMs = (now - run.started).milliseconds
    return Outcome(report: report, heldLocks: held)
  }

  private func hostReport(_ i: Int, _ run: RunState, now: ContinuousClock.Instant) -> HostReport {
    let facts = run.facts[i]
    let (result, error) = run.machine.result(of: i)
    var release = facts.snapshot?.releases.current
    if result == .deployed { release = facts.install?.release.id }
    if result == .restoreFailed { release = nil }
    let commitError = run.machine.commitFailures[i].map { "recording or unlocking failed: \($0)" }
    return HostReport(
      name: hosts[i].name, result: result, release: release,
      durationMs: ((facts.finished ?? now) - facts.started).milliseconds,
      error: [error, commitError].compactMap { $0 }.joined(separator: "\n").nilIfEmpty,
      steps: hosts[i].steps)
  }
}

/// The hosts whose lock lease a run renews, and the renewal under way on each. A commit releases
/// the lock, so it first stops the host's renewals and waits for one in flight: a renewal that
/// checked the holder just before the release would otherwise write a lease file after it, and
/// leave a lock with no holder behind until that lease ran out.
actor LeaseRenewals {
  private var held: Set<Int> = []
  private var inFlight: [Int: Task<Bool, Never>] = [:]

  /// Host `i`'s lock is this run's: renew it from now on.
  func hold(_ i: Int) { held.insert(i) }

  /// Renews no more on host `i`, once the renewal under way there (if any) has ended.
  func stop(_ i: Int) async {
    held.remove(i)
    if let renewal = inFlight[i] { _ = await renewal.value }
  }

  /// Starts one renewal on every held host (`renew` makes it), and returns them.
  func start(_ renew: @Sendable (Int) -> Task<Bool, Never>) -> [(Int, Task<Bool, Never>)] {
    held.sorted().map { i in
      let renewal = renew(i)
      inFlight[i] = renewal
      return (i, renewal)
    }
  }

  /// The renewal on host `i` has ended.
  func ended(_ i: Int) { inFlight[i] = nil }
}
