import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check every inventory and deploy plan.",
      discussion: """
        Reads every inventories/<env>.yml and playbooks/<app>.yml, resolves each plan for every host of every environment, and reports every problem at once as file:line:col. Exit status 0 when everything is valid (warnings allowed), 2 otherwise.

        Examples:
          deployctl validate
          deployctl validate --inventories ./inv --playbooks ./plans
          deployctl validate --output json
        """
    )

    @OptionGroup var common: CommonOptions

    func run() async throws {
      let validation = Project.validate(
        inventoriesDirectory: common.inventoriesDirectory, playbooksDirectory: common.playbooksDirectory)
      let terminal = Terminal.standardError()
      for diagnostic in validation.diagnostics {
        let label =
          diagnostic.severity == .error ? terminal.paint("error:", .red) : terminal.paint("warning:", .yellow)
        terminal.line("\(diagnostic.location): \(label) \(diagnostic.message)")
        if terminal.githubActions { terminal.line(GitHubActions.annotation(diagnostic)) }
      }
      switch common.output {
      case .json:
        print(ValidationReport(validation).jsonString())
      case .text:
        let errors = validation.errors.count
        let warnings = validation.warnings.count
        if validation.isValid {
          let envs = validation.environments.joined(separator: ", ")
          let apps = validation.apps.joined(separator: ", ")
          let tail = warnings > 0 ? " (\(warnings) warning\(warnings == 1 ? "" : "s"))" : ""
          print("valid: environments \(envs); apps \(apps)\(tail)")
        } else {
          terminal.line(
            "\(errors) error\(errors == 1 ? "" : "s")\(warnings > 0 ? ", \(warnings) warning\(warnings == 1 ? "" : "s")" : "")"
          )
        }
      }
      if !validation.isValid { throw ExitCode(ExitStatus.refused.rawValue) }
    }
  }
}
