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
