import DeployConfig
import DeployEngine
import DeployTransport
import Foundation

/// `deployctl logs ENV [--follow] [--since] [--tail]`: the app container's log from every
/// targeted host, each line prefixed with its host, stdout to stdout and stderr to stderr.
public struct LogsCommand: Sendable {
  public var environment: String
  public var follow: Bool
  /// `--since`, as Docker takes it (`ContainerLogs.since(parsing:)`).
  public var since: String?
  public var tail: Int?
  public var selection: ProjectSelection
  /// `--role`: only this role's containers (a plan with `roles:`); nil: every role's.
  public var role: String?

  public init(
    environment: String, follow: Bool, since: String?, tail: Int?, selection: ProjectSelection,
    role: String? = nil
  ) {
    self.role = role
    self.environment = environment
    self.follow = follow
    self.since = since
    self.tail = tail
    self.selection = selection
  }

  public func run(on console: CommandConsole) async -> CommandExit {
    let plan: EnvironmentPlan
    let logs: ContainerLogs
    do {
      logs = ContainerLogs(follow: follow, since: since, tail: tail)
      plan = try selection.environmentPlan(environment)
    } catch {
      return console.fail(error, command: "logs", environment: environment, app: selection.app)
    }
    let sources: [ContainerLogs.Source]
    do {
      sources = try RoleSelection.logSources(plan, role: role)
    } catch {
      return console.fail(error, command: "logs", environment: environment, app: selection.app)
    }
    let output = LogLines(
      stdoutIsReport: console.format == .json,
      masker: SecretMasker(secrets: selection.secrets(for: plan).values))
    let run = Task {
      await logs.run(sources, onLine: output.line) { host, message in output.failure(host, message) }
    }
    // SIGINT and SIGTERM cancel the run: every host's stream stops, its channel closes.
    let signals = Signals { _ in run.cancel() }
    let results = await run.value
    signals.cancel()

    let report = LogsReport(environment: plan.environment, app: plan.app, results: results)
    if console.format == .json { console.standardOutput.line(report.jsonString()) }
    return CommandExit(report.exitCode)
  }
}

/// Log lines as they arrive, `host: text`, on the stream they came from (all on stderr when
/// stdout holds the JSON report), with the plan's secret values masked.
private final class LogLines: Sendable {
  let stdoutIsReport: Bool
  let masker: SecretMasker
  private let lock = NSLock()

  init(stdoutIsReport: Bool, masker: SecretMasker) {
    self.stdoutIsReport = stdoutIsReport
    self.masker = masker
  }

  func line(_ host: String, _ line: OutputLine) {
    write("\(host): \(masker.mask(line.text))\n", toStdout: line.stream == .stdout && !stdoutIsReport)
  }

  func failure(_ host: String, _ message: String) {
    write("\(host): error: \(masker.mask(message))\n", toStdout: false)
  }

  private func write(_ text: String, toStdout: Bool) {
    lock.withLock {
      (toStdout ? FileHandle.standardOutput : FileHandle.standardError).write(Data(text.utf8))
    }
  }
}
