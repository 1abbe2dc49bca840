import ArgumentParser
import DeployConfig
import DeployKit
import Foundation

extension OutputFormat: ExpressibleByArgument {}

/// Options every subcommand accepts (docs/commands.md "Options every command takes"), anywhere
/// before a `--`.
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
      "Only these hosts (inventory host names, comma-separated or repeated).", valueName: "host"),
    completion: .hosts)
  var limit: [String] = []

  @Option(help: "How many hosts are worked on at once (default: the rollout's batch size).")
  var parallel: Int?

  func validate() throws {
    if let parallel, parallel < 1 {
      throw ValidationError("--parallel must be at least 1, got \(parallel)")
    }
  }

  var selection: ProjectSelection {
    ProjectSelection(
      inventoriesDirectory: inventoriesDirectory, playbooksDirectory: playbooksDirectory, app: app,
      limit: limit,
      parallel: parallel)
  }

  var console: CommandConsole { CommandConsole(format: output) }
}

extension CompletionKind {
  /// The environments of the inventories folder the command line names.
  static var environments: CompletionKind {
    .custom { words, _, prefix in CompletionCandidates.environments(words: words, prefix: prefix) }
  }

  /// The hosts of the environment the command line names (for `--limit`).
  static var hosts: CompletionKind {
    .custom { words, _, prefix in CompletionCandidates.hosts(words: words, prefix: prefix) }
  }
}

/// `--lock-wait DURATION` of the commands that take the environment's lock.
struct LockWaitOption: ParsableArguments {
  @Option(
    name: .customLong("lock-wait"),
    help: ArgumentHelp(
      "Wait up to this long (30s, 10m) for another run's lock, saying who holds it; then exit 4.",
      valueName: "duration"),
    transform: Duration.argument)
  var duration: Duration?
}
