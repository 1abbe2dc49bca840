import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Lock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show or break an environment's deploy lock.",
      discussion: """
        A deploy, promote or rollback holds the lock of its environment and app on every host
        for the whole command, as a lease that the holder renews while it runs. A lock left by a
        killed run expires with its lease (inventory lock.ttl); --force breaks it at once.

        Examples:
          deployctl lock prod status
          deployctl lock prod release --force
        """
    )

    @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
    var environment: String

    @Argument(help: "status or release.")
    var action: LockAction

    @Flag(help: "Break the lock whoever holds it (check first that the holder no longer runs).")
    var force = false

    @OptionGroup var common: CommonOptions

    func validate() throws {
      do {
        try action.check(force: force)
      } catch {
        throw ValidationError("\(error)")
      }
    }

    func run() async throws {
      throw await LockCommandLine(
        environment: environment, action: action, force: force, selection: common.selection
      ).run(on: common.console)
    }
  }
}

extension LockAction: ExpressibleByArgument {}
