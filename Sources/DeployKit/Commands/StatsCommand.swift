import DeployConfig
import DeployEngine
import Foundation

/// `deployctl stats ENV`: the four DORA keys over a window, from the hosts' own records.
public struct StatsCommand: EnvironmentCommand {
  public static let name = "stats"
  public var environment: String
  /// The window ends now and starts this long ago. Default 90 days.
  public var since: Duration
  public var selection: ProjectSelection

  public static let defaultSince = Duration.seconds(90 * 86_400)

  public init(environment: String, since: Duration = StatsCommand.defaultSince, selection: ProjectSelection) {
    self.environment = environment
    self.since = since
    self.selection = selection
  }

  public func run(_ plan: EnvironmentPlan, on console: CommandConsole) async -> CommandExit {
    let report = await DeliveryStats(
      plan: plan, progress: console.progress(), since: since, parallel: selection.parallel
    )
    .read()
    return console.finish(report)
  }
}

extension StatsReport: CommandOutcome {
  public func printSummary(on console: CommandConsole, masker: SecretMasker) {
    if console.format == .text { console.standardOutput.line(text) }
    for host in hosts where !host.reachable {
      console.terminal.warning("\(host.name): history not read: \(host.error ?? "unreachable")")
    }
  }
}
