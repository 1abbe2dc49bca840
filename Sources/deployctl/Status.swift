import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Per host: reachable, release, image digest, container state, health.",
      discussion: """
        Exit 0 when every host is reachable, runs a release and is healthy; 1 otherwise.

        Examples:
          deployctl status prod
          deployctl status staging --output json
        """
    )

    @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
    var environment: String

    @OptionGroup var common: CommonOptions

    func run() async throws {
      throw await StatusCommand(environment: environment, selection: common.selection).run(on: common.console)
    }
  }
}
