import ArgumentParser
import DeployKit
import Foundation

enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
  case text
  case json
}

/// Options every subcommand accepts (SPEC.md "Common options"), anywhere before a `--`.
struct CommonOptions: ParsableArguments {
  @Option(name: .customLong("inventories"), help: "Folder of <env>.yml inventories.")
  var inventoriesDirectory: String = "./inventories"

  @Option(name: .customLong("playbooks"), help: "Folder of <app>.yml deploy plans.")
  var playbooksDirectory: String = "./playbooks"

  @Option(help: "Output format: text or json.")
  var output: OutputFormat = .text

  @Option(help: "The app (playbooks/<app>.yml); may be left out when there is one playbook.")
  var app: String?

  @Option(
    help: ArgumentHelp(
      "Only these hosts (inventory host names, comma-separated or repeated).", valueName: "host"))
  var limit: [String] = []

  @Option(help: "How many hosts are worked on at once (default: the rollout's batch size).")
  var parallel: Int?

  /// `--limit a,b --limit c` as `[a, b, c]`.
  var limitedHosts: [String] {
    limit.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
      .filter { !$0.isEmpty }
  }

  func validate() throws {
    if let parallel, parallel < 1 {
      throw ValidationError("--parallel must be at least 1, got \(parallel)")
    }
  }

  /// Every inventory and plan, loaded and checked (`ConfigErrors`, exit 2, when anything is wrong).
  func loadProject() throws(ConfigErrors) -> Project {
    try Project.load(inventoriesDirectory: inventoriesDirectory, playbooksDirectory: playbooksDirectory)
  }
}
