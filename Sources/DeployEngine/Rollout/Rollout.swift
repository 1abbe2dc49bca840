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
  /// `promote`: the digest already ran the plan's `release_command` in FROM (its records say so),
  /// so it does not run again.
  public var releaseCommandRan = false

  /// Whether this run runs the plan's `release_command` before the first batch: a deploy, or a
  /// promote of a digest that has not run it; never a rollback or a dry run.
  var runsReleaseCommand: Bool { !dryRun && wouldRunReleaseCommand }

  /// `runsReleaseCommand`, dry run or not.
  var wouldRunReleaseCommand: Bool {
    guard plan.releaseCommand != nil else { return false }
    switch kind {
    case .deploy: return true
    case .promote: return !releaseCommandRan
    case .rollback: return false
    }
  }

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
/// moved goes back too. `RolloutMachine` decides and `RolloutEngine` carries its actions out;
/// this connects the hosts, runs the hooks around the rollout, waits for another run's lock
/// (`--lock-wait`) and sends the notifications.
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
    var prometheusURL: String?
    if let spec = request.plan.hosts.first?.verify?.prometheus {
      prometheusURL = spec.url.value(in: ProcessInfo.processInfo.environment)
      if prometheusURL == nil, !request.dryRun, let name = spec.url.secretName {
        return refused(RolloutError.secretsNotSet([name]))
      }
    }
    let prometheusSecret =
      request.plan.hosts.first?.verify?.prometheus?.url.secretName == nil ? nil : prometheusURL
    let secrets =
      Array(request.secrets.values) + Array(urls.values) + (login.map { [$0.password] } ?? [])
      + (prometheusSecret.map { [$0] } ?? [])
    let hooks = HookRunner(hooks: request.plan.hooks, masker: SecretMasker(secrets: secrets))
    var report = await rollOut(hooks: hooks, registry: login, prometheusURL: prometheusURL)
    guard !request.dryRun else { return report }
    if let result = await runClosingHook(hooks, report, secrets: secrets) { report.hooks.append(result) }
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

  /// `post_deploy` after a success, `on_failure` after a failure or an interruption, with the
  /// report (secrets masked) in a file only we can read.
  private func runClosingHook(_ hooks: HookRunner, _ report: CommandReport, secrets: [String]) async
    -> HookResult?
  {
    let interrupted = stop.requested != nil
    let stage: HooksSpec.Stage? =
      report.result == .success
      ? .postDeploy
      : [.failed, .needsAttention].contains(report.result) || interrupted ? .onFailure : nil
    guard let stage, request.plan.hooks.command(stage) != nil else { return nil }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "deployctl-report-\(request.runID).json"
    ).path
    let masker = SecretMasker(secrets: secrets)
    FileManager.default.createFile(
      atPath: path, contents: Data(masker.mask(report.jsonString()).utf8),
      attributes: [.posixPermissions: 0o600])
    // The file is a temporary copy of the report: if it cannot be removed, nothing else fails.
    defer { try? FileManager.default.removeItem(atPath: path) }
    var environment = hookEnvironment(report)
    environment.result = interrupted && report.result != .success ? "interrupted" : report.result.rawValue
    environment.exitCode = report.exitCode
    environment.error = report.error
    environment.reportPath = path
    // A second signal during on_failure still ends the process at once (StopRequest).
    return await runHook(hooks, stage, environment)
  }

  func hookEnvironment(_ report: CommandReport) -> HookEnvironment {
    HookEnvironment(
      command: request.commandName, environment: request.plan.environment, app: request.plan.app,
      release: report.release?.id, image: report.release?.image, previousRelease: report.previousRelease?.id,
      hosts: request.plan.hosts.map(\.host.name), user: request.user)
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

  private func rollOut(hooks: HookRunner, registry: RegistryLogin?, prometheusURL: String?) async
    -> CommandReport
  {
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
        } else if !plan.roles.isEmpty {
          hosts.append(
            try RolesHost(
              plan: plan, connections: connections, progress: progress, stop: stop, registry: registry))
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
    engine.prometheusURL = prometheusURL
    if let first = request.plan.hosts.first?.host.sshTarget {
      engine.forward = { port, host in
        try await connections.session(for: first).forward(remotePort: port, remoteHost: host)
      }
    }
    if !request.dryRun, request.plan.hooks.preDeploy != nil {
      engine.preDeploy = { report in await runHook(hooks, .preDeploy, hookEnvironment(report)) }
    }
    var outcome = await engine.execute()
    if let wait = request.lockWait, !outcome.heldLocks.isEmpty {
      outcome.report = await waitForLock(engine, outcome, upTo: wait)
    }
    await withDiscardingTaskGroup { group in
      for host in hosts { group.addTask { await host.close() } }
    }
    await connections.closeAll()
    return outcome.report
  }

  /// `--lock-wait`: another run holds the lock. Ours is released again, and the whole run starts
  /// over every 2 s until the lock is free or its holder's lease expired, or the wait is over; a
  /// stop request (SIGINT) ends the wait at once.
  private func waitForLock(_ engine: RolloutEngine, _ first: RolloutEngine.Outcome, upTo wait: Duration) async
    -> CommandReport
  {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + wait
    var outcome = first
    var said: [HeldLock] = []
    while !outcome.heldLocks.isEmpty, clock.now < deadline, stop.requested == nil {
      // Said again only when a holder changes, not as its lease counts down.
      let holders = outcome.heldLocks.map(\.ignoringLease)
      if holders != said {
        await progress.say(
          "waiting up to \(ProgressLog.format(deadline - clock.now)) for the lock: \(outcome.report.error ?? "")"
        )
        said = holders
      }
      // The bound is fixed before the wait (recomputed as it goes, it would move with the clock
      // and the run would only ever retry at the deadline).
      if await stop.wait(until: min(deadline, clock.now + .seconds(2))) != nil { break }
      // At the deadline too: a lock freed just then is still taken.
      outcome = await engine.execute()
    }
    var report = outcome.report
    report.waitedMs = (clock.now - start).milliseconds
    if report.result == .locked {
      report.error =
        (report.error ?? "") + "\n(waited \(ProgressLog.format(clock.now - start)) with --lock-wait)"
    }
    return report
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
