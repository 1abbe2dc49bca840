import DeployConfig
import DeployEngine
import Foundation

/// `deployctl history ENV`: the runs the hosts recorded, newest first.
public struct HistoryCommand: EnvironmentCommand {
  public static let name = "history"
  public var environment: String
  /// At most this many runs; 0: all the hosts keep.
  public var last: Int
  public var selection: ProjectSelection

  public init(environment: String, last: Int = 20, selection: ProjectSelection) {
    self.environment = environment
    self.last = last
    self.selection = selection
  }

  public func run(_ plan: EnvironmentPlan, on console: CommandConsole) async -> CommandExit {
    var report = await EnvironmentHistory(
      plan: plan, progress: console.progress(), parallel: selection.parallel
    )
    .read()
    if last > 0 { report.releases = Array(report.releases.prefix(last)) }
    return console.finish(report)
  }
}
