import ArgumentParser
import DeployKit

@main
struct DeployCtl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "deployctl",
    abstract: "Roll container images out to hosts over SSH, health-check, roll back, promote.",
    discussion: """
      Examples:
        deployctl validate
        deployctl deploy staging --image v2
        deployctl promote staging prod
        deployctl rollback prod
        deployctl status prod --output json
      """,
    subcommands: [
      Validate.self,
      Exec.self,
    ]
  )
}
