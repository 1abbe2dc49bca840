import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the plan each host of an environment gets, resolved (like `kamal config`).",
      discussion: """
        The plan with the environment's `environments:` override merged, `${environment}` and host \
        `vars` substituted and every default filled in, per host. Secrets are shown by name only, with \
        whether deployctl's environment holds a value: a value is never printed. Nothing is contacted.

        Examples:
          deployctl config prod
          deployctl config staging --app web --output json
          deployctl config prod --limit web1
        """)

    @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
    var environment: String

    @OptionGroup var common: CommonOptions

    func run() async throws {
      throw await ConfigCommand(environment: environment, selection: common.selection).run(on: common.console)
    }
  }
}
