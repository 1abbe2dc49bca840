import ArgumentParser
import DeployKit
import Foundation

@main
struct DeployCtl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "deployctl",
    abstract: "Roll container images out to hosts over SSH, health-check, roll back, promote.",
    discussion: """
      Examples:
        deployctl validate
        deployctl deploy staging --image v2
        deployctl promote staging prod
        deployctl rollback prod
        deployctl status prod --output json
      """,
    subcommands: [
      Validate.self,
      Exec.self,
      Deploy.self,
      Promote.self,
      Rollback.self,
      Status.self,
      History.self,
      Lock.self,
    ]
  )

  /// Runs the command and turns every failure into SPEC.md's exit codes: bad arguments are 2
  /// (argument-parser's own default would be 64), a `DeployctlError` its own status.
  static func main() async {
    do {
      var command = try parseAsRoot()
      if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch let error as ConfigErrors {
      for diagnostic in error.diagnostics {
        FileHandle.standardError.write(Data("\(diagnostic)\n".utf8))
      }
      Foundation.exit(error.exitStatus.rawValue)
    } catch let error as any DeployctlError {
      Terminal.standardError().error(error.description)
      Foundation.exit(error.exitStatus.rawValue)
    } catch {
      if exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
        Foundation.exit(ExitStatus.refused.rawValue)
      }
      exit(withError: error)
    }
  }
}
