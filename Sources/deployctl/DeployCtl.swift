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
      LoadTestCommand.self,
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
      let code = exitCode(for: error)
      if code == .validationFailure {
        // Bad arguments: exit 2, and with --output json still one JSON document on stdout.
        let message = fullMessage(for: error)
        FileHandle.standardError.write(Data((message + "\n").utf8))
        if let command = jsonCommand() {
          let report = CommandReport(
            command: command, environment: nil, app: nil, result: .refused, error: message)
          print(report.jsonString())
        }
        Foundation.exit(ExitStatus.refused.rawValue)
      }
      exit(withError: error)
    }
  }

  /// The subcommand's name when the arguments ask for `--output json` (before any `--`).
  static func jsonCommand(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> String? {
    let options = arguments.prefix { $0 != "--" }
    let json =
      zip(options, options.dropFirst()).contains { $0 == ("--output", "json") }
      || options.contains("--output=json")
    guard json else { return nil }
    let names = configuration.subcommands.map { $0._commandName }
    return options.first { names.contains($0) } ?? "deployctl"
  }
}
