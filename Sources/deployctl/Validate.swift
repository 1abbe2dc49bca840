import ArgumentParser
import DeployKit

extension DeployCtl {
  struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check every inventory and deploy plan.",
      discussion: """
        Example:
          deployctl validate --inventories ./inventories --playbooks ./playbooks
        """
    )

    @OptionGroup var common: CommonOptions

    func run() async throws {
      throw ExitCode(ExitStatus.refused.rawValue)
    }
  }
}
