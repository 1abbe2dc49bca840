import DeployConfig
import DeployEngine
import Foundation

/// `deployctl rollback ENV [--to RELEASE]`: a kept release re-created from the hosts' records.
public struct RollbackCommand: EnvironmentCommand {
  public static let name = "rollback"
  public var environment: String
  /// A release id, tag or digest; nil: the previous release.
  public var to: String?
  public var selection: ProjectSelection
  /// `--lock-wait`: how long to wait for another run's lock.
  public var lockWait: Duration?

  public init(environment: String, to: String? = nil, selection: ProjectSelection) {
    self.environment = environment
    self.to = to
    self.selection = selection
  }

  public func run(_ plan: EnvironmentPlan, on console: CommandConsole) async -> CommandExit {
    let stop = StopRequest()
    stop.installSignalHandlers()
    var request = RolloutRequest(
      kind: .rollback(to: to), plan: plan, parallel: selection.parallel, user: Invocation.user(),
      commandLine: "rollback \(environment)" + (to.map { " --to \($0)" } ?? ""))
    request.lockWait = lockWait
    let report = await Rollout(request: request, progress: console.progress(), stop: stop).run()
    return console.finish(report)
  }
}
