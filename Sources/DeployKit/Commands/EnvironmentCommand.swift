import DeployConfig

/// A command about one environment that needs nothing but its plan to start: the plan is loaded
/// first, and one that does not load ends the command with the exit `ProjectSelection.plan` gives.
public protocol EnvironmentCommand: Sendable {
  /// The subcommand's name, for the failure report.
  static var name: String { get }
  var environment: String { get }
  var selection: ProjectSelection { get }

  func run(_ plan: EnvironmentPlan, on console: CommandConsole) async -> CommandExit
}

extension EnvironmentCommand {
  public func run(on console: CommandConsole) async -> CommandExit {
    switch selection.plan(environment, for: Self.name, on: console) {
    case .success(let plan): await run(plan, on: console)
    case .failure(let exit): exit
    }
  }
}
