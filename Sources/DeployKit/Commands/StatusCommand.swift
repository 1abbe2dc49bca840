import DeployConfig
import DeployEngine
import Foundation

/// `deployctl status ENV`: per host reachable, release, image, state, health.
public struct StatusCommand: EnvironmentCommand {
  public static let name = "status"
  public var environment: String
  public var selection: ProjectSelection

  public init(environment: String, selection: ProjectSelection) {
    self.environment = environment
    self.selection = selection
  }

  public func run(_ plan: EnvironmentPlan, on console: CommandConsole) async -> CommandExit {
    let report = await EnvironmentStatus(
      plan: plan, progress: console.progress(), parallel: selection.parallel
    )
    .report()
    return console.finish(report)
  }
}
