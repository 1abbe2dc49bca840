import DeployConfig
import DeployEngine
import Foundation

/// `deployctl promote FROM TO`: the digest live and healthy on every FROM host, rolled out to TO.
public struct PromoteCommand: Sendable {
  public var from: String
  public var to: String
  /// `--min-age`: refuse a release live in FROM for less than this.
  public var minAge: Duration?
  public var dryRun: Bool
  public var selection: ProjectSelection
  /// `--lock-wait`: how long to wait for another run's lock.
  public var lockWait: Duration?

  public init(
    from: String, to: String, minAge: Duration? = nil, dryRun: Bool = false, selection: ProjectSelection
  ) {
    self.from = from
    self.to = to
    self.minAge = minAge
    self.dryRun = dryRun
    self.selection = selection
  }

  public func run(on console: CommandConsole) async -> CommandExit {
    let gate: PromotionGate
    let target: EnvironmentPlan
    let progress: ProgressLog
    let secrets: [String: String]
    do {
      try selection.check()
      let project = try selection.loadProject()
      let toInventory = try project.inventory(named: to)
      let fromInventory = try project.inventory(named: from)
      try PromotionGate.checkRoute(from: from, to: toInventory)
      let playbook = try project.plan(app: selection.app)
      target = try playbook.resolved(for: toInventory).limited(to: selection.limitedHosts)
      secrets = selection.secrets(for: target)
      progress = console.progress(secrets: Array(secrets.values))
      gate = PromotionGate(
        from: try playbook.resolved(for: fromInventory), to: toInventory, minAge: minAge,
        progress: progress, parallel: selection.parallel)
    } catch {
      return console.fail(error, command: "promote", environment: to, app: selection.app)
    }
    let stop = StopRequest()
    stop.installSignalHandlers()

    let source: PromotionSource
    do {
      source = try await gate.check()
    } catch {
      var report = CommandReport(
        command: "promote", environment: to, app: target.app, result: .refused, promotedFrom: from,
        dryRun: dryRun, error: String(describing: error))
      if case .promotionRefused(_, _, let read) = error { report.source = read }
      return console.finish(report, secrets: Array(secrets.values))
    }
    // The digest read in FROM; its tag only labels the record (nothing is resolved again).
    let image: ImageReference
    do {
      let pinned = try ImageReference.parse(source.image ?? "", defaultRepository: target.image.name)
      image = try ImageReference(repository: pinned.repository, tag: source.tag, digest: pinned.digest)
    } catch {
      return console.fail(error, command: "promote", environment: to, app: target.app)
    }
    await progress.say(
      "\(from) runs \(source.image ?? "?")" + (source.tag.map { " (\($0))" } ?? "")
        + " on every host, healthy: promoting it to \(to)")
    var request = RolloutRequest(
      kind: .promote(from: from, release: source.release, image: image), plan: target,
      parallel: selection.parallel, dryRun: dryRun, secrets: secrets, user: Invocation.user(),
      commandLine: "promote \(from) \(to)")
    request.lockWait = lockWait
    request.releaseCommandRan = source.releaseCommandRan
    var report = await Rollout(request: request, progress: progress, stop: stop).run()
    report.source = source
    return console.finish(report, secrets: Array(secrets.values))
  }
}
