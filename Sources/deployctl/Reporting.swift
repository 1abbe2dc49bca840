import ArgumentParser
import DeployKit
import Foundation

/// How a command ends: the JSON document on stdout or the table on stderr, the GitHub summary,
/// and the exit code SPEC.md fixes.
struct Reporter {
  var format: OutputFormat
  var terminal = Terminal.standardError()

  func progress(secrets: [String] = []) -> ProgressLog {
    ProgressLog(terminal: terminal, masker: SecretMasker(secrets: secrets))
  }

  /// Ends a deploy, promote or rollback.
  func finish(_ report: CommandReport, secrets: [String] = []) throws -> Never {
    let masker = SecretMasker(secrets: secrets)
    if format == .json {
      print(masker.mask(report.jsonString()))
    }
    if !report.hosts.isEmpty {
      terminal.line("")
      terminal.line(masker.mask(SummaryTable.text(report, terminal: terminal)))
    }
    if let error = report.error { terminal.error(masker.mask(error)) }
    for host in report.hosts where host.error != nil && terminal.githubActions {
      terminal.line(GitHubActions.annotation(.error, masker.mask("\(host.name): \(host.error!)")))
    }
    if let path = terminal.stepSummaryPath {
      try? GitHubActions.appendSummary(masker.mask(SummaryTable.markdown(report)), to: path)
    }
    let route = report.promotedFrom.map { "\($0) → " } ?? ""
    let line =
      "\(report.command) \(route)\(report.environment ?? ""): \(report.result.rawValue)"
      + (report.release.map { " (release \($0.id), \($0.image))" } ?? "")
    terminal.line(report.result == .success ? terminal.paint(line, .green) : terminal.paint(line, .red))
    throw ExitCode(report.exitCode)
  }

  /// Ends a command that failed before it could report per host.
  func fail(_ error: any Error, command: String, environment: String?, app: String?) throws -> Never {
    let status = (error as? any DeployctlError)?.exitStatus ?? .refused
    if format == .json {
      let report = CommandReport(
        command: command, environment: environment, app: app, result: CommandResult(status),
        error: String(describing: error))
      print(report.jsonString())
    }
    if let config = error as? ConfigErrors {
      // Already `file:line:col: error: …`, one per line; GitHub shows each on its line.
      for diagnostic in config.diagnostics {
        terminal.line("\(diagnostic)")
        if terminal.githubActions { terminal.line(GitHubActions.annotation(diagnostic)) }
      }
    } else {
      terminal.error(String(describing: error))
    }
    throw ExitCode(status.rawValue)
  }
}

extension CommonOptions {
  /// The plan of `--app` for environment `name`, limited to `--limit` hosts.
  func environmentPlan(_ name: String) throws -> EnvironmentPlan {
    let project = try loadProject()
    let inventory = try project.inventory(named: name)
    return try project.plan(app: app).resolved(for: inventory).limited(to: limitedHosts)
  }

  /// The values of the plan's secrets, from deployctl's own environment.
  func secrets(for plan: EnvironmentPlan) -> [String: String] {
    let environment = ProcessInfo.processInfo.environment
    let names = Set(plan.hosts.flatMap(\.container.secrets))
    return environment.filter { names.contains($0.key) }
  }
}
