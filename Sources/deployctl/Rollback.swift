import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Go back to the previous release, or to one kept on the hosts.",
      discussion: """
        The release's container is re-created from the record each host keeps (same image
        digest, same settings, same env file), health-checked, and rolled forward again if it
        fails. Volume data is never touched. The plan's release_command never runs on a rollback.

        Examples:
          deployctl rollback prod
          deployctl rollback prod --to 20261121-171530-3fa9
          deployctl rollback prod --to v1
        """
    )

    @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
    var environment: String

    @Option(help: "A kept release: its id, tag or digest (see `deployctl history`).")
    var to: String?

    @OptionGroup var lock: LockWaitOption

    @OptionGroup var common: CommonOptions

    func run() async throws {
      var command = RollbackCommand(environment: environment, to: to, selection: common.selection)
      command.lockWait = lock.duration
      throw await command.run(on: common.console)
    }
  }
}
