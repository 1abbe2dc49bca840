import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "The app container's log from every host, each line prefixed with its host.",
      discussion: """
        The container's stdout goes to stdout, its stderr to stderr. With --follow, new lines \
        stream until SIGINT or SIGTERM (then exit 0; nothing is left running on the hosts). A host \
        that cannot be reached is named on stderr while the others go on; the exit status is then 1.

        Examples:
          deployctl logs prod --tail 100
          deployctl logs staging --since 10m --follow
          deployctl logs prod --limit web1 --app api
        """)

    @Argument(help: "The environment (inventories/<env>.yml).")
    var environment: String

    @OptionGroup var common: CommonOptions

    @Flag(name: .shortAndLong, help: "Keep streaming new lines until interrupted.")
    var follow = false

    @Option(
      help: ArgumentHelp("Only lines newer than this (10m, 1h30m, 2026-11-30T08:00:00Z).", valueName: "when"))
    var since: String?

    @Option(help: ArgumentHelp("Only the last N lines of each host (before following).", valueName: "N"))
    var tail: Int?

    func run() async throws {
      let reporter = Reporter(format: common.output)
      let plan: EnvironmentPlan
      let logs: ContainerLogs
      do {
        if let tail, tail < 0 { throw RolloutError.refused("--tail must be 0 or more, got \(tail)") }
        let since = try since.map { text in
          do throws(ValueError) {
            return try ContainerLogs.since(parsing: text)
          } catch {
            throw RolloutError.refused("--since: \(error.message)")
          }
        }
        logs = ContainerLogs(follow: follow, since: since, tail: tail)
        plan = try common.environmentPlan(environment)
      } catch {
        try reporter.fail(error, command: "logs", environment: environment, app: common.app)
      }
      let sources = plan.hosts.map {
        ContainerLogs.Source(target: $0.host.sshTarget, container: $0.container.name)
      }
      let output = LogLines(
        stdoutIsReport: common.output == .json,
        masker: SecretMasker(secrets: common.secrets(for: plan).values))
      let run = Task {
        await logs.run(sources, onLine: output.line) { host, message in output.failure(host, message) }
      }
      let signals = CancelOnSignal(run)
      let results = await run.value
      signals.stop()

      let report = LogsReport(environment: plan.environment, app: plan.app, results: results)
      if common.output == .json { print(report.jsonString()) }
      throw ExitCode(report.exitCode)
    }
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

/// SIGINT and SIGTERM cancel `task`: every host's stream stops, its channel closes.
private final class CancelOnSignal: @unchecked Sendable {
  private var sources: [DispatchSourceSignal] = []

  init<T>(_ task: Task<T, Never>) {
    // A parent may have started us with these signals blocked (test runners, CI agents).
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    for number in [SIGINT, SIGTERM] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { task.cancel() }
      source.resume()
      sources.append(source)
    }
  }

  func stop() {
    for source in sources { source.cancel() }
  }
}
