import ArgumentParser
import DeployConfig
import DeployKit
import Foundation

extension DeployCtl {
  struct Promote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Deploy to TO exactly the image digest that is live and healthy on every FROM host.",
      discussion: """
        Reads every FROM host first: all must be reachable, run a release deployctl recorded as
        healthy, pass a health probe now, and run one image digest; otherwise nothing changes
        and the exit code is 2, with the reason per host. TO's `promote_from` must name FROM.
        The digest (never a tag re-resolved) is then rolled out to TO with TO's settings,
        health-checked and rolled back on failure, exactly like deploy. The release in TO
        records the environment and release it was promoted from. The plan's release_command
        does not run again when FROM's records say it ran for this digest (in FROM, or further
        up the promotion chain); otherwise it runs once, before any container changes, as in deploy.

        --min-age (and `promote_min_age` in TO's inventory; the longer applies) refuses a
        release that has been live in FROM for less than that.

        Examples:
          deployctl promote staging prod
          deployctl promote dev staging --min-age 30m --output json
          deployctl promote staging prod --dry-run
        """
    )

    @Argument(help: "The environment to take the release from (e.g. staging).", completion: .environments)
    var from: String

    @Argument(help: "The environment to deploy it to (e.g. prod).", completion: .environments)
    var to: String

    @Option(
      help: ArgumentHelp(
        "Refuse unless the release has been live in FROM this long (e.g. 30m, 2h, 1d).", valueName: "duration"
      ),
      transform: Duration.argument)
    var minAge: Duration?

    @Flag(help: "Check FROM and print what would happen on each TO host; change nothing.")
    var dryRun = false

    @OptionGroup var lock: LockWaitOption

    @OptionGroup var common: CommonOptions

    func run() async throws {
      var command = PromoteCommand(
        from: from, to: to, minAge: minAge, dryRun: dryRun, selection: common.selection
      )
      command.lockWait = lock.duration
      throw await command.run(on: common.console)
    }
  }
}
