import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Releases of an environment, newest first: id, digest, tag, who, when, how, result.",
      discussion: """
        Read from the hosts' own records (release records and audit log under
        /var/lib/deployctl/<app>/); one line per deploy, promote or rollback run, with how
        many hosts it succeeded on. Exit 0 when every host was read, 1 when some could not be
        (what the others keep is still shown).

        Examples:
          deployctl history prod
          deployctl history staging --last 5 --output json
        """
    )

    @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
    var environment: String

    @Option(help: "Show at most this many runs (0: all the hosts keep).")
    var last = 20

    @OptionGroup var common: CommonOptions

    func validate() throws {
      if last < 0 { throw ValidationError("--last must be 0 or more, got \(last)") }
    }

    func run() async throws {
      throw await HistoryCommand(environment: environment, last: last, selection: common.selection)
        .run(on: common.console)
    }
  }
}
