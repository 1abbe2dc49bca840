import ArgumentParser
import DeployConfig
import DeployEngine
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
    version: DeployctlVersion.current,
    subcommands: [
      Init.self,
      Validate.self,
      Exec.self,
      Logs.self,
      Deploy.self,
      Promote.self,
      Rollback.self,
      Status.self,
      History.self,
      Stats.self,
      Lock.self,
      Proxy.self,
      Maintenance.self,
      Config.self,
      LoadTestCommand.self,
    ]
  )

  /// Runs the command and turns every failure into an exit code (docs/exit-codes.md): bad arguments are 2
  /// (argument-parser's own default would be 64), a command's end its own status.
  static func main() async {
    do {
      var command = try parseAsRoot()
      if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch let end as CommandExit {
      Foundation.exit(end.status)
    } catch let error as any DeployctlError {
      DiagnosticsPrinter().print(error)
      Foundation.exit(error.exitStatus.rawValue)
    } catch {
      guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
      // Bad arguments: exit 2, and with --output json still one JSON document on stdout.
      let message = fullMessage(for: error)
      FileHandle.standardError.write(Data((message + "\n").utf8))
      if let request = OutputRequest.read(), request.output == .json {
        let report = CommandReport(
          command: request.command, environment: nil, app: nil, result: .refused, error: message)
        print(report.jsonString())
      }
      Foundation.exit(ExitStatus.refused.rawValue)
    }
  }
}

/// What format arguments that failed to parse asked for: argument-parser reads `--output` alone
/// (before any `--`) and keeps every other word, so a refusal can still be a JSON document.
struct OutputRequest: ParsableArguments {
  @Option var output: OutputFormat?
  @Argument(parsing: .allUnrecognized) var other: [String] = []

  /// The subcommand (the first word, when it names one), for the document's `command`.
  var command: String {
    let names = DeployCtl.configuration.subcommands.map { $0._commandName }
    return other.first.flatMap { names.contains($0) ? $0 : nil } ?? "deployctl"
  }

  static func read(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> OutputRequest? {
    // Words that do not even parse as these two asked for no JSON: the refusal stays text.
    try? parse(arguments)
  }
}
