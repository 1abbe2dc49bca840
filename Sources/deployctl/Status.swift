import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Per host: reachable, release, image digest, container state, health.",
      discussion: """
        Exit 0 when every host is reachable, runs a release and is healthy; 1 otherwise.

        Examples:
          deployctl status prod
          deployctl status staging --output json
        """
    )

    @Argument(help: "The environment (inventories/<env>.yml).")
    var environment: String

    @OptionGroup var common: CommonOptions

    func run() async throws {
      let reporter = Reporter(format: common.output)
      let plan: EnvironmentPlan
      do {
        plan = try common.environmentPlan(environment)
      } catch {
        try reporter.fail(error, command: "status", environment: environment, app: common.app)
      }
      let entries = await EnvironmentStatus(
        plan: plan, progress: reporter.progress(), parallel: common.parallel
      )
      .read()
      let hosts = entries.map { $0.status }
      let ok = hosts.allSatisfy { $0.reachable && $0.release != nil && $0.health == "healthy" }
      let report = StatusReport(
        environment: plan.environment, app: plan.app, result: ok ? .success : .failed, hosts: hosts)
      if common.output == .json {
        print(report.jsonString())
      } else {
        print(StatusTable.text(report))
      }
      throw ExitCode(ok ? 0 : 1)
    }
  }
}
