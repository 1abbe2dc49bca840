import DeployConfig
import DeployTransport
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
  /// How long to wait for another run's lock (`--lock-wait`); nil: give up at once (exit 4).
  public var lockWait: Duration?

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

/// Rolls one release out to one environment: every host prepared at once (lock, state, pull),
/// then batch by batch installed and health-checked, with a failed host restored at once, and
/// when failures exceed `max_failures` the rollout stops and (with `rollback.auto`) every host it
/// moved goes back too. `RolloutMachine` decides; this carries its actions out on the hosts and
/// feeds their outcomes back. Each host's outcome is a value; nothing a host does cancels its
/// siblings.
public struct Rollout: Sendable {
  public var request: RolloutRequest
  public var progress: ProgressLog
  public var stop: StopRequest

  public init(request: RolloutRequest, progress: ProgressLog, stop: StopRequest) {
    self.request = request
    self.progress = progress
    self.stop = stop
  }

  /// Over SSH with Docker, one session per host (jump hosts shared). The plan's hooks run around
  /// it (`pre_deploy` once every host is read, before any changes) and its notifications go out
  /// when it ends.
  public func run() async -> CommandReport {
    let clock = ContinuousClock()
    let start = clock.now
    let urls: [String: String]
    do {
      // A dry run sends no notification, so it does not need their secrets.
      urls =
        request.dryRun ? [:] : try request.plan.notify.secretValues(in: ProcessInfo.processInfo.environment)
    } catch {
      return refused(error)
    }
    var login: RegistryLogin?
    do {
      login = try request.plan.registry?.login(
        for: request.plan.image, environment: ProcessInfo.processInfo.environment)
    } catch  where request.dryRun || { if case .rollback = request.kind { true } else { false } }() {
      // A rollback re-creates kept releases from images still on the hosts, and a dry run pulls
      // nothing: neither needs the registry.
      login = nil
    } catch {
      return refused(error)
    }
    let secrets = Array(request.secrets.values) + Array(urls.values) + (login.map { [$0.password] } ?? [])
    let hooks = HookRunner(hooks: request.plan.hooks, masker: SecretMasker(secrets: secrets))
    var report = await rollOut(hooks: hooks, registry: login)
    guard !request.dryRun else { return report }
    let interrupted = stop.requested != nil
    let stage: HooksSpec.Stage? =
      report.result == .success
      ? .postDeploy
      : [.failed, .needsAttention].contains(report.result) || interrupted ? .onFailure : nil
    if let stage, request.plan.hooks.command(stage) != nil {
      let path = FileManager.default.temporaryDirectory.appendingPathComponent(
        "deployctl-report-\(request.runID).json"
      ).path
      let masker = SecretMasker(secrets: secrets)
      FileManager.default.createFile(
        atPath: path, contents: Data(masker.mask(report.jsonString()).utf8),
        attributes: [.posixPermissions: 0o600])
      defer { try? FileManager.default.removeItem(atPath: path) }
      var environment = hookEnvironment(report)
      environment.result = interrupted && report.result != .success ? "interrupted" : report.result.rawValue
      environment.exitCode = report.exitCode
      environment.error = report.error
      environment.reportPath = path
      // A second signal during on_failure still ends the process at once (StopRequest).
      if let result = await runHook(hooks, stage, environment) { report.hooks.append(result) }
    }
    if !request.plan.notify.isEmpty {
      report.durationMs = (clock.now - start).milliseconds
      var tag: String?
      if case .deploy(let image) = request.kind { tag = image.tag }
      if case .promote(_, _, let image) = request.kind { tag = image.tag }
      let notifier = Notifier(
        targets: request.plan.notify, urls: urls, secrets: Array(request.secrets.values))
      let message = NotificationMessage(report: report, tag: tag, user: request.user)
      report.notifications = await notifier.send(message, report: report.jsonString())
    }
    report.durationMs = (clock.now - start).milliseconds
    return report
  }

  func hookEnvironment(_ report: CommandReport) -> HookEnvironment {
    HookEnvironment(
      command: request.commandName, environment: request.plan.environment, app: request.plan.app,
      release: report.release?.id, image: report.release?.image, previousRelease: report.previousRelease?.id,
      hosts: request.plan.hosts.map(\.host.name), user: request.user)
  }

  /// A lock message without its lease countdown (`; its lease expires in 41s unless renewed`).
  static func withoutLease(_ message: String) -> String {
    message.replacing(/; its lease expires in \d+s unless renewed/, with: "")
  }

  /// Runs a hook, saying its output as it comes, in order, and all of it before this returns.
  private func runHook(_ hooks: HookRunner, _ stage: HooksSpec.Stage, _ environment: HookEnvironment) async
    -> HookResult?
  {
    let (lines, sink) = AsyncStream.makeStream(of: String.self)
    let progress = progress
    let printer = Task { for await line in lines { await progress.say(line) } }
    let result = await hooks.run(stage, environment: environment) { sink.yield($0) }
    sink.finish()
    await printer.value
    return result
  }

  /// Refused before any host was contacted (exit 2).
  private func refused(_ error: any Error) -> CommandReport {
    CommandReport(
      command: request.commandName, environment: request.plan.environment, app: request.plan.app,
      result: .refused, dryRun: request.dryRun, error: String(describing: error))
  }

  private func rollOut(hooks: HookRunner, registry: RegistryLogin?) async -> CommandReport {
    let connections = SSHConnections()
    var hosts: [any RolloutHost] = []
    for plan in request.plan.hosts {
      do {
        if let settings = request.plan.engine.swarm {
          hosts.append(
            try SwarmHost(
              plan: plan, settings: settings,
              policy: SwarmService.Policy(
                plan: request.plan, settings: settings, registryAuth: registry != nil),
              connections: connections, progress: progress, stop: stop, registry: registry))
        } else {
          hosts.append(
            try DockerHost(
              plan: plan, connections: connections, progress: progress, stop: stop, registry: registry))
        }
      } catch {
        return refused(error)
      }
    }
    var engine = RolloutEngine(request: request, hosts: hosts, progress: progress, stop: stop)
    if !request.dryRun, request.plan.hooks.preDeploy != nil {
      engine.preDeploy = { report in await runHook(hooks, .preDeploy, hookEnvironment(report)) }
    }
    var report = await engine.run()
    if let wait = request.lockWait, report.result == .locked {
      // Another run holds the lock: ours is released again, and the whole run starts over when the
      // lock is free or its holder's lease expired (a SIGINT ends the wait at once).
      let clock = ContinuousClock()
      let start = clock.now
      let deadline = start + wait
      var said = ""
      while report.result == .locked, clock.now < deadline, stop.requested == nil {
        // Said again only when the holder changes, not as its lease counts down.
        if let holder = report.error, Self.withoutLease(holder) != said {
          await progress.say(
            "waiting up to \(ProgressLog.format(deadline - clock.now)) for the lock: \(holder)")
          said = Self.withoutLease(holder)
        }
        // Try again every 2 s (the bound is fixed before the loop: recomputed in its condition, it
        // would move with the clock and the run would only ever retry at the deadline).
        let retry = min(deadline, clock.now + .seconds(2))
        while clock.now < retry, stop.requested == nil {
          try? await Task.sleep(for: .milliseconds(100))
        }
        if stop.requested != nil { break }
        // At the deadline too: a lock freed just then is still taken.
        report = await engine.run()
      }
      report.waitedMs = (clock.now - start).milliseconds
      if report.result == .locked {
        report.error =
          (report.error ?? "") + "\n(waited \(ProgressLog.format(clock.now - start)) with --lock-wait)"
      }
    }
    await withDiscardingTaskGroup { group in
      for host in hosts { group.addTask { await host.close() } }
    }
    await connections.closeAll()
    return report
  }
}

/// Carries out a `RolloutMachine`'s actions on any `RolloutHost`s (Docker over SSH, or a fake).
public struct RolloutEngine: Sendable {
  public var request: RolloutRequest
  public var hosts: [any RolloutHost]
  public var progress: ProgressLog
  public var stop: StopRequest
  public var holder: LockHolder
  /// The plan's `pre_deploy` hook, run once every host is read and the release is known, before
  /// any host changes; a failed one refuses the run (exit 2).
  public var preDeploy: (@Sendable (CommandReport) async -> HookResult?)?

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

  private enum Done: Sendable {
    case event(RolloutMachine.Event)
    case prepared(Int, PrepareResult)
    case interrupted(String)
    case renewing
    case verifiedHosts([(Int, HostVerification?)])
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

  public func run() async -> CommandReport {
    let clock = ContinuousClock()
    let start = clock.now
    var report = CommandReport(
      command: request.commandName, environment: plan.environment, app: plan.app, result: .failed,
      dryRun: request.dryRun)
    if case .promote(let from, _, _) = request.kind { report.promotedFrom = from }
    let secrets: [EnvVar]
    do {
      secrets = try secretValues()
    } catch {
      report.result = .refused
      report.error = String(describing: error)
      report.exitCode = ExitStatus.refused.rawValue
      return report
    }
    let batchSizes = plan.rollout.batch.batches(hostCount: hosts.count)
    var machine = RolloutMachine(
      hostCount: hosts.count,
      settings: .init(
        batch: plan.rollout.batch, maxFailures: plan.rollout.maxFailures, autoRollback: plan.rollback.auto,
        parallel: request.parallel ?? batchSizes.max(), dryRun: request.dryRun))
    var facts = [HostFacts](repeating: HostFacts(), count: hosts.count)
    var pull: ImageReference?
    switch request.kind {
    case .deploy(let image), .promote(_, _, let image):
      if !request.dryRun || image.digest != nil { pull = request.dryRun ? nil : image }
    case .rollback: pull = nil
    }
    let toPull = pull
    let holder = holder
    let hosts = hosts
    let stop = stop
    let ttl = plan.lockTTL
    let runID = request.runID
    /// Hosts where this run holds the lock: their lease is renewed every third of the TTL, on a
    /// channel of its own, so no step waits for it.
    let holding = Locked<Set<Int>>([])

    await withTaskGroup(of: Done.self) { group in
      var pending: [RolloutMachine.Action] = machine.start()
      var running = 0
      var interrupted = false
      // SIGINT/SIGTERM become an event; the watcher ends with the rollout.
      group.addTask {
        while !Task.isCancelled {
          if let signal = stop.requested { return .interrupted(signal) }
          try? await Task.sleep(for: .milliseconds(50))
        }
        return .interrupted("")
      }
      group.addTask {
        while !Task.isCancelled {
          do { try await Task.sleep(for: ttl / 3) } catch { break }
          let held = holding.current.sorted()
          await withTaskGroup(of: (Int, Bool).self) { renewals in
            for i in held { renewals.addTask { (i, await hosts[i].renew(holder, ttl: ttl)) } }
            for await (i, kept) in renewals where !kept {
              await progress.host(
                hosts[i].name, "lock", .note("the lock is no longer ours: another run took it over"))
            }
          }
        }
        return .renewing
      }
      while true {
        while !pending.isEmpty {
          let action = pending.removeFirst()
          switch action {
          case .prepare(let i, let attempt):
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(100 * min(attempt, 10))) }
            let host = hosts[i]
            running += 1
            group.addTask {
              .prepared(
                i,
                await host.prepare(
                  PrepareRequest(holder: holder, pull: toPull, attempt: attempt, ttl: ttl, run: runID)))
            }
          case .choose:
            let event = await choose(&facts, &report, secrets: secrets)
            pending += machine.handle(event)
          case .install(let i), .check(let i), .restore(let i, _):
            guard let plan = facts[i].install else { continue }
            if case .install = action { facts[i].started = .now }
            if case .restore = action {
              await progress.host(hosts[i].name, "failed", .note(Self.reason(machine.phases[i])))
            }
            running += 1
            group.addTask { .event(await Self.perform(action, on: hosts[i], plan)) }
          case .verify(let members):
            // Smoke and load checks come with `verify:`; without it there is nothing to check.
            guard plan.hosts.contains(where: { $0.verify != nil }) else {
              pending += machine.handle(.verified(error: nil))
              continue
            }
            running += 1
            let chosen = members.map { ($0, hosts[$0]) }
            group.addTask {
              let results = await withTaskGroup(of: (Int, HostVerification?).self) { checks in
                for (i, host) in chosen { checks.addTask { (i, await host.verify()) } }
                var all: [(Int, HostVerification?)] = []
                for await result in checks { all.append(result) }
                return all.sorted { $0.0 < $1.0 }
              }
              return .verifiedHosts(results)
            }
          case .commit(let i):
            if facts[i].finished == nil, Self.isChange(machine.phases[i]) { facts[i].finished = .now }
            let snapshot =
              facts[i].snapshot
              ?? HostSnapshot(releases: HostReleases(current: nil, records: [], unreadable: []))
            let commit = RolloutDecisions.commit(
              request, phase: machine.phases[i], target: facts[i].install?.release, snapshot: snapshot,
              holder: holder, keep: plan.rollback.keep, verified: facts[i].verification?.passed)
            let host = hosts[i]
            running += 1
            group.addTask {
              let error = await Self.failure { try await host.commit(commit) }
              return .event(.committed(host: i, error: error))
            }
          }
        }
        if machine.isFinished || running == 0 { break }
        guard let done = await group.next() else { break }
        // A signal is seen before the outcome that follows it, so nothing new starts after it.
        if !interrupted, let signal = stop.requested {
          interrupted = true
          await progress.say("\(signal): finishing the steps under way, then putting moved hosts back")
          pending += machine.handle(.interrupted(signal))
        }
        switch done {
        case .interrupted, .renewing:
          break
        case .verifiedHosts(let results):
          running -= 1
          for (i, result) in results { facts[i].verification = result }
          let checked = results.compactMap(\.1)
          for result in checked { await progress.host(result.name, "verify", .note(result.outcome)) }
          let failed = checked.filter { !$0.passed }.map(\.name)
          pending += machine.handle(
            .verified(
              error: failed.isEmpty ? nil : "verification failed on \(failed.joined(separator: ", "))"))
        case .prepared(let i, let result):
          running -= 1
          facts[i].snapshot = result.snapshot
          facts[i].pulled = result.pulled
          if case .failed(_, let reason) = result.outcome {
            facts[i].finished = .now
            await progress.host(hosts[i].name, "failed", .note(reason))
          }
          if result.outcome == .ready { holding.withLock { _ = $0.insert(i) } }
          pending += machine.handle(.prepared(host: i, result.outcome))
        case .event(let event):
          running -= 1
          if case .checked(let i, nil) = event { facts[i].finished = .now }
          if case .restored(let i, _) = event { facts[i].finished = .now }
          if case .committed(let i, _) = event { holding.withLock { _ = $0.remove(i) } }
          pending += machine.handle(event)
        }
      }
      group.cancelAll()
    }

    if let refusal = machine.refusal {
      report.error =
        refusal.result == .locked
        ? RolloutError.locked(
          environment: plan.environment, app: plan.app,
          holders: refusal.reason.split(separator: "\n").map(String.init)
        ).description
        : refusal.reason
    } else if let stopped = machine.stopped {
      report.error = "rollout stopped: \(stopped)"
      await progress.say("rollout stopped: \(stopped)")
    }
    if let first = facts.compactMap({ $0.snapshot?.current }).first {
      report.previousRelease = ReleaseRef(id: first.id, image: first.image)
    }
    report.hosts = hosts.indices.map { i in
      let (result, error) = machine.result(of: i)
      var release = facts[i].snapshot?.releases.current
      if result == .deployed { release = facts[i].install?.release.id }
      if result == .restoreFailed { release = nil }
      let commitError = machine.commitErrors[i].map { "recording or unlocking failed: \($0)" }
      return HostReport(
        name: hosts[i].name, result: result, release: release,
        durationMs: ((facts[i].finished ?? clock.now) - facts[i].started).milliseconds,
        error: [error, commitError].compactMap { $0 }.joined(separator: "\n").nilIfEmpty,
        steps: hosts[i].steps)
    }
    let verified = facts.compactMap(\.verification)
    if !verified.isEmpty {
      report.verification = VerificationReport(
        via: plan.hosts.first?.verify?.via ?? .ssh, hosts: verified)
    }
    report.result = machine.verdict
    report.exitCode = report.result.exitStatus.rawValue
    report.durationMs = (clock.now - start).milliseconds
    return report
  }

  /// One host step of the machine's, its outcome as the event the machine expects.
  private static func perform(
    _ action: RolloutMachine.Action, on host: any RolloutHost, _ plan: InstallPlan
  ) async -> RolloutMachine.Event {
    switch action {
    case .install(let i): .installed(host: i, error: await failure { try await host.install(plan) })
    case .check(let i): .checked(host: i, error: await failure { try await host.check(plan) })
    case .restore(let i, _): .restored(host: i, error: await failure { try await host.restore(plan) })
    default: preconditionFailure("not a host step: \(action)")
    }
  }

  /// nil when `body` succeeds, else what went wrong.
  private static func failure(_ body: () async throws -> Void) async -> String? {
    do {
      try await body()
      return nil
    } catch {
      return String(describing: error)
    }
  }

  private static func isChange(_ phase: RolloutMachine.Phase) -> Bool {
    switch phase {
    case .healthy, .restored, .restoreFailed: true
    default: false
    }
  }

  private static func reason(_ phase: RolloutMachine.Phase) -> String {
    if case .restoring(_, let reason) = phase { return reason }
    return ""
  }

  /// Every host is prepared: decide each one's target (or refuse).
  private func choose(
    _ facts: inout [HostFacts], _ report: inout CommandReport, secrets: [EnvVar]
  ) async -> RolloutMachine.Event {
    var snapshots: [Int: HostSnapshot] = [:]
    for i in facts.indices {
      if let snapshot = facts[i].snapshot { snapshots[i] = snapshot }
    }
    var resolved: ImageDigest?
    if case .deploy(let image) = request.kind, image.digest == nil {
      // The tag as the first host's registry answer had it: every host gets that digest.
      resolved = snapshots.keys.sorted().compactMap { facts[$0].pulled }.first
      if let resolved {
        await progress.say(
          "\(image) is \(image.resolved(to: resolved).pinned ?? "?"): every host gets this digest")
      }
    }
    do {
      let envFileContent = secrets.isEmpty ? nil : try EnvFile.render(secrets)
      let targets = try RolloutDecisions.targets(
        request, snapshots: snapshots, plans: plan.hosts, resolved: resolved,
        envFile: { plan, id in
          if case .rollback = request.kind { return nil }
          return secrets.isEmpty
            ? nil : try HostPaths(app: plan.app, environment: plan.environment).envFile(id)
        })
      report.release = targets.release
      for (i, release) in targets.releases {
        facts[i].install = InstallPlan(
          release: release, previous: snapshots[i]?.current, replacing: snapshots[i]?.container,
          envFile: release.container.envFile == nil ? nil : envFileContent)
        if release.container.envFile != nil { facts[i].install?.secrets = secrets }
      }
      if let preDeploy, let first = snapshots.keys.sorted().first {
        if let current = snapshots[first]?.current {
          report.previousRelease = ReleaseRef(id: current.id, image: current.image)
        }
        if let result = await preDeploy(report) {
          report.hooks.append(result)
          if result.result == .failed {
            return .chosen(
              refusal:
                "pre_deploy hook failed: \(result.error ?? "exit \(result.exitStatus ?? -1)"); nothing was changed",
              settled: [:])
          }
        }
      }
      if request.dryRun {
        for i in snapshots.keys.sorted() {
          await describe(
            i, snapshot: snapshots[i]!, spec: targets.planned[i] ?? targets.releases[i]?.container)
        }
      }
      return .chosen(refusal: nil, settled: [:])
    } catch {
      return .chosen(refusal: String(describing: error), settled: [:])
    }
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
    await progress.host(
      name, same ? "would re-run (same digest)" : "would run",
      .note(ShellQuote.join(DockerCommand.runArguments(spec))))
  }

  private func secretValues() throws -> [EnvVar] {
    let names = plan.hosts.first?.container.secrets ?? []
    let missing = names.filter { request.secrets[$0] == nil }
    if !missing.isEmpty, case .rollback = request.kind {
      // A rollback reuses the env files kept on the hosts.
      return []
    }
    guard missing.isEmpty else {
      throw RolloutError.secretsNotSet(missing)
    }
    return names.map { EnvVar($0, request.secrets[$0]!) }
  }
}

extension LockHolder {
  /// This process as a lock holder.
  public static func current(user: String, command: String) -> LockHolder {
    LockHolder(
      user: user, host: ProcessInfo.processInfo.hostName, pid: ProcessInfo.processInfo.processIdentifier,
      command: command)
  }
}

extension String {
  var nilIfEmpty: String? { isEmpty ? nil : self }
}
