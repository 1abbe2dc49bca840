import DeployConfig
import DeployEngine
import Foundation

/// `deployctl validate`: every inventory and plan, every problem at once.
public struct ValidateCommand: Sendable {
  public var selection: ProjectSelection

  public init(selection: ProjectSelection) {
    self.selection = selection
  }

  public func run(on console: CommandConsole) -> CommandExit {
    let validation = Project.validate(
      inventoriesDirectory: selection.inventoriesDirectory, playbooksDirectory: selection.playbooksDirectory)
    console.diagnostics.print(validation.diagnostics)
    return console.finish(ValidationReport(validation))
  }
}

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

/// `deployctl lock ENV status|release [--force]`.
public struct LockCommandLine: EnvironmentCommand {
  public static let name = "lock"
  public var environment: String
  public var action: LockAction
  public var force: Bool
  public var selection: ProjectSelection

  public init(environment: String, action: LockAction, force: Bool = false, selection: ProjectSelection) {
    self.environment = environment
    self.action = action
    self.force = force
    self.selection = selection
  }

  public func run(_ plan: EnvironmentPlan, on console: CommandConsole) async -> CommandExit {
    let report = await LockCommand(plan: plan, progress: console.progress()).run(action)
    return console.finish(report)
  }
}

extension ExecCommand {
  public func run(on console: CommandConsole) async -> CommandExit {
    let prepared: Prepared
    do {
      prepared = try prepare()
    } catch {
      return console.fail(error, command: "exec", environment: environment, app: selection.app)
    }
    let report = await run(prepared, console: console)
    return console.finish(report, masker: prepared.masker)
  }
}
