import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Promote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Deploy to TO exactly the image digest that is live and healthy on every FROM host.",
      discussion: """
        Reads every FROM host first: all must be reachable, run a release deployctl recorded as
        healthy, pass a health probe now, and run one image digest; otherwise nothing changes
        and the exit code is 2, with the reason per host. TO's `promote_from` must name FROM.
        The digest (never a tag re-resolved) is then rolled out to TO with TO's settings,
        health-checked and rolled back on failure, exactly like deploy. The release in TO
        records the environment and release it was promoted from.

        --min-age (and `promote_min_age` in TO's inventory; the longer applies) refuses a
        release that has been live in FROM for less than that.

        Examples:
          deployctl promote staging prod
          deployctl promote dev staging --min-age 30m --output json
          deployctl promote staging prod --dry-run
        """
    )

    @Argument(help: "The environment to take the release from (e.g. staging).")
    var from: String

    @Argument(help: "The environment to deploy it to (e.g. prod).")
    var to: String

    @Option(help: "Refuse unless the release has been live in FROM this long (e.g. 30m, 2h, 1d).")
    var minAge: String?

    @Flag(help: "Check FROM and print what would happen on each TO host; change nothing.")
    var dryRun = false

    @OptionGroup var common: CommonOptions

    func run() async throws {
      let reporter = Reporter(format: common.output)
      let gate: PromotionGate
      let target: EnvironmentPlan
      let progress: ProgressLog
      let secrets: [String: String]
      do {
        let project = try common.loadProject()
        let toInventory = try project.inventory(named: to)
        let fromInventory = try project.inventory(named: from)
        try PromotionGate.checkRoute(from: from, to: toInventory)
        let playbook = try project.plan(app: common.app)
        target = try playbook.resolved(for: toInventory).limited(to: common.limitedHosts)
        secrets = common.secrets(for: target)
        progress = reporter.progress(secrets: Array(secrets.values))
        gate = PromotionGate(
          from: try playbook.resolved(for: fromInventory), to: toInventory, minAge: try minimumAge(),
          progress: progress, parallel: common.parallel)
      } catch {
        try reporter.fail(error, command: "promote", environment: to, app: common.app)
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
        try reporter.finish(report, secrets: Array(secrets.values))
      }
      // The digest read in FROM; its tag only labels the record (nothing is resolved again).
      let pinned = try ImageReference.parse(source.image ?? "", defaultRepository: target.image.name)
      let image = try ImageReference(repository: pinned.repository, tag: source.tag, digest: pinned.digest)
      await progress.say(
        "\(from) runs \(source.image ?? "?")" + (source.tag.map { " (\($0))" } ?? "")
          + " on every host, healthy: promoting it to \(to)")
      let request = RolloutRequest(
        kind: .promote(from: from, release: source.release, image: image), plan: target,
        parallel: common.parallel, dryRun: dryRun, secrets: secrets, user: Invocation.user(),
        commandLine: "promote \(from) \(to)")
      var report = await Rollout(request: request, progress: progress, stop: stop).run()
      report.source = source
      try reporter.finish(report, secrets: Array(secrets.values))
    }

    private func minimumAge() throws -> Duration? {
      guard let minAge else { return nil }
      do {
        return try Duration(parsing: minAge)
      } catch {
        throw ValidationError("--min-age \(minAge): \(error)")
      }
    }
  }
}
