import DeployConfig
import Foundation

/// The plan's `release_command` in a rollout (docs/configuration.md "Release command"): run once,
/// on the first host to change, after every host pulled and before any container changes. A
/// promote of a digest that ran it in FROM does not run it again; a rollback never runs it.
extension RolloutEngine {
  /// Runs it on `host` and says how it ended.
  static func runRelease(_ host: any RolloutHost, _ install: InstallPlan, _ command: ReleaseCommandSpec) async
    -> ReleaseCommandReport
  {
    let clock = ContinuousClock()
    let started = clock.now
    var report = ReleaseCommandReport(host: host.name, command: command.command, result: .succeeded)
    do {
      try await host.runRelease(install, command: command)
    } catch {
      report.result = .failed
      report.error = String(describing: error)
    }
    report.durationMs = (clock.now - started).milliseconds
    return report
  }

  /// A promote of a digest whose records in FROM say the release command ran: the new records
  /// say so too, so a promote further on skips it as well.
  var inheritsReleaseCommand: Bool {
    guard plan.releaseCommand != nil, case .promote = request.kind else { return false }
    return request.releaseCommandRan
  }

  /// Once the targets are chosen: a promote that skips the command says so; a dry run says where
  /// it would run (`first`, the first host to change).
  func sayReleaseCommand(_ report: inout CommandReport, first: String?) async {
    guard let command = plan.releaseCommand else { return }
    if inheritsReleaseCommand, case .promote(let from, _, _) = request.kind {
      report.releaseCommand = ReleaseCommandReport(host: nil, command: command.command, result: .skipped)
      await progress.say("release command: not run; this digest already ran it in \(from)")
    } else if request.dryRun, request.wouldRunReleaseCommand, let first {
      await progress.host(
        first, "would run release command",
        .note(
          "\(ShellQuote.join(command.command)) (once, in a container of the new image, before any change)"))
    }
  }
}
