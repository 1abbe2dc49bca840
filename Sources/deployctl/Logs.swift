import ArgumentParser
import DeployConfig
import DeployEngine
import DeployKit
import Foundation

extension DeployCtl {
  struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "The app container's log from every host, each line prefixed with its host.",
      discussion: """
        The container's stdout goes to stdout, its stderr to stderr. With --follow, new lines \
        stream until SIGINT or SIGTERM (then exit 0; nothing is left running on the hosts). A host \
        that cannot be reached is named on stderr while the others go on; the exit status is then 1.

        Examples:
          deployctl logs prod --tail 100
          deployctl logs staging --since 10m --follow
          deployctl logs prod --limit web1 --app api
        """)

    @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
    var environment: String

    @OptionGroup var common: CommonOptions

    @Flag(name: .shortAndLong, help: "Keep streaming new lines until interrupted.")
    var follow = false

    @Option(
      help: ArgumentHelp("Only lines newer than this (10m, 1h30m, 2026-11-30T08:00:00Z).", valueName: "when"),
      transform: parsed(ContainerLogs.since(parsing:)))
    var since: String?

    @Option(help: ArgumentHelp("Only the last N lines of each host (before following).", valueName: "N"))
    var tail: Int?

    @Option(
      help: ArgumentHelp(
        "Only this role's containers (a plan with roles:); without it, every role's, prefixed host/role.",
        valueName: "role"))
    var role: String?

    func validate() throws {
      if let tail, tail < 0 { throw ValidationError("--tail must be 0 or more, got \(tail)") }
    }

    func run() async throws {
      throw await LogsCommand(
        environment: environment, follow: follow, since: since, tail: tail, selection: common.selection,
        role: role
      ).run(on: common.console)
    }
  }
}
