import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a starting project: inventories, a plan and, with --ci github, a workflow.",
      discussion: """
        Writes inventories/<env>.yml for each --hosts ENV=ADDR[,ADDR] (in promotion order: each names the one before in promote_from; default dev and prod), playbooks/<app>.yml with every key explained, and with --ci github .github/workflows/deploy.yml: deployctl installed with its action, the first environment deployed on every push to main, each next one promoted behind a GitHub environment (manual approval). --app names the app (default web). What it writes passes `deployctl validate`. It never overwrites a file: when one exists it names it, writes nothing and exits 2.

        Examples:
          deployctl init --app shop --image ghcr.io/acme/shop --hosts staging=10.0.1.5 --hosts prod=10.0.2.5,10.0.2.6
          deployctl init --ci github
        """
    )

    @Option(help: "The image repository, without a tag.") var image: String?
    @Option(
      help: ArgumentHelp("An environment and its hosts' addresses; repeat it.", valueName: "ENV=ADDR[,ADDR]"))
    var hosts: [String] = []
    @Option(help: ArgumentHelp("Also write a CI workflow: github.", valueName: "github")) var ci: String?
    @OptionGroup var common: CommonOptions

    func validate() throws {
      if let ci, ci != "github" { throw ValidationError("--ci: only `github` is known") }
    }

    func run() async throws {
      throw InitCommand(
        app: common.app, image: image, hosts: hosts, githubWorkflow: ci == "github",
        selection: common.selection
      ).run(on: common.console)
    }
  }
}
