import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Lock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show or break an environment's deploy lock.",
      discussion: """
        A deploy, promote or rollback holds the lock of its environment and app on every host
        for the whole command. A lock left by a crash stays until broken with --force.

        Examples:
          deployctl lock prod status
          deployctl lock prod release --force
        """
    )

    enum Action: String, ExpressibleByArgument, CaseIterable {
      case status
      case release
    }

    @Argument(help: "The environment (inventories/<env>.yml).")
    var environment: String

    @Argument(help: "status or release.")
    var action: Action

    @Flag(help: "Break the lock whoever holds it (check first that the holder no longer runs).")
    var force = false

    @OptionGroup var common: CommonOptions

    func run() async throws {
      let reporter = Reporter(format: common.output)
      let plan: EnvironmentPlan
      do {
        plan = try common.environmentPlan(environment)
        if action == .release && !force {
          throw RolloutError.refused(
            "lock release breaks another run's lock: check that run has ended, then add --force")
        }
      } catch {
        try reporter.fail(error, command: "lock", environment: environment, app: common.app)
      }
      let report = await LockCommand(plan: plan, progress: reporter.progress()).run(
        release: action == .release, user: Invocation.user())
      if common.output == .json {
        print(report.jsonString())
      } else {
        for host in report.hosts {
          print(
            "\(host.name): \(host.state)" + (host.holder.map { " by \($0)" } ?? "")
              + (host.error.map { " (\($0))" } ?? ""))
        }
      }
      throw ExitCode(report.exitCode)
    }
  }
}
