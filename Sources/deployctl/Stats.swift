import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "The four DORA keys of an environment, from the hosts' own records.",
      discussion: """
        Read from the hosts' audit logs and release records under
        /var/lib/deployctl/<app>/, over the window that ends now and starts
        --since ago. A run is one deploy, promote or rollback.

        Deployment frequency: deploy and promote runs that succeeded on every
        host, per day and per week, with a bar per week (▁ none, █ busiest).

        Lead time: from the image's creation (its label
        org.opencontainers.image.created, else Docker's creation time, read
        on the hosts) to the run being live on every host; median and p90.
        Images no longer on any host are left out and counted.

        Change failure rate: deploy and promote runs that failed (rolled
        back in the run, partly, or needing attention) or were taken off
        later by `deployctl rollback`, of all deploy and promote runs.

        Time to restore: from a failed release going live to the next run
        that succeeded (a rollback or a fix); median and max. A failed
        release no run has replaced yet is listed as not restored.

        No deploys, or only failures, give no figure where there is none, and
        say so. A time that runs backwards (the clocks of the machines that
        built or deployed disagree) counts as 0, with a note. Exit 0 when
        every host was read, 1 when some could not be (the figures are then
        from the others).

        Examples:
          deployctl stats prod
          deployctl stats prod --since 30d --app web --output json
        """
    )

    @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
    var environment: String

    @Option(
      help: ArgumentHelp("The window: from this long ago until now, e.g. 30d or 12h.", valueName: "duration"),
      transform: Duration.argument)
    var since: Duration = StatsCommand.defaultSince

    @OptionGroup var common: CommonOptions

    func validate() throws {
      if since <= .zero { throw ValidationError("--since must be more than 0, e.g. 90d") }
    }

    func run() async throws {
      throw await StatsCommand(environment: environment, since: since, selection: common.selection)
        .run(on: common.console)
    }
  }
}
