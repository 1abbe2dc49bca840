import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Deploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Roll an image out to every host of an environment, health-checked, rolled back on failure.",
      discussion: """
        A tag is resolved to its digest once, before any host changes; every host gets that digest.
        The plan's release_command (a migration) runs once, after the pull and before any container
        changes, on the first host to change; if it fails nothing changes (exit 1). --dry-run shows it.

        Examples:
          deployctl deploy staging --image v2
          deployctl deploy prod --image registry.example.com/acme/web@sha256:… --output json
          deployctl deploy staging --image v2 --dry-run
          deployctl deploy staging --image v2 --limit web1 --parallel 2
        """
    )

    @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
    var environment: String

    @Option(help: "A tag (v2), repo:tag, or repo@sha256:… digest.")
    var image: String

    @Flag(help: "Print what would happen on each host; change nothing.")
    var dryRun = false

    @OptionGroup var lock: LockWaitOption

    @OptionGroup var common: CommonOptions

    func run() async throws {
      var command = DeployCommand(
        environment: environment, image: image, dryRun: dryRun, selection: common.selection
      )
      command.lockWait = lock.duration
      throw await command.run(on: common.console)
    }
  }
}
