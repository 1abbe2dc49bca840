import ArgumentParser
import DeployKit

enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
  case text
  case json
}

/// Options every subcommand accepts (SPEC.md "Common options").
struct CommonOptions: ParsableArguments {
  @Option(name: .customLong("inventories"), help: "Folder of <env>.yml inventories.")
  var inventoriesDirectory: String = "./inventories"

  @Option(name: .customLong("playbooks"), help: "Folder of <app>.yml deploy plans.")
  var playbooksDirectory: String = "./playbooks"

  @Option(help: "Output format: text or json.")
  var output: OutputFormat = .text
}
