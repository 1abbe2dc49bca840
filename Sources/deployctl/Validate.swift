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
      throw ValidateCommand(selection: common.selection).run(on: common.console)
    }
  }
}
