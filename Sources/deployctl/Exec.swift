import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run a command on every host of an environment; per-host output and exit status.",
      discussion: """
        Each word after `--` reaches the host's shell as one word, quoted, as with ssh. Output lines \
        are prefixed with the host's name: the command's stdout on stdout, its stderr on stderr. \
        Exit status 0 when the command exited 0 on every host, 1 otherwise, 2 for bad arguments \
        or files.

        Examples:
          deployctl exec staging -- uptime
          deployctl exec prod --limit web1,web2 -- docker ps
          deployctl exec prod -- sh -c 'df -h / | tail -1'
          deployctl exec dev --output json -- cat /etc/os-release
        """)

    @Argument(help: "The environment (inventories/<env>.yml).")
    var environment: String

    @OptionGroup var common: CommonOptions

    @Option(
      help: ArgumentHelp("Per host: give up on the command after this long (30s, 5m).", valueName: "duration")
    )
    var timeout: String?

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after `--`.")
    var command: [String] = []

    /// Bad arguments, refused before anything runs (exit 2, as SPEC.md says).
    private func argumentProblem() -> String? {
      if command.isEmpty {
        return "give the command after `--`, e.g. deployctl exec \(environment) -- uptime"
      }
      if let parallel = common.parallel, parallel < 1 {
        return "--parallel must be at least 1, got \(parallel)"
      }
      if let timeout {
        do {
          if try Duration(parsing: timeout) <= .zero { return "--timeout must be more than 0" }
        } catch {
          return "--timeout: \(error)"
        }
      }
      return nil
    }

    func run() async throws {
      let reporter = Reporter(format: common.output)
      let targets: [SSHTarget]
      let masker: SecretMasker
      do {
        if let problem = argumentProblem() { throw RolloutError.refused(problem) }
        let project = try common.loadProject()
        let inventory = try project.inventory(named: environment)
        let limit = common.limitedHosts
        let unknown = limit.filter { inventory.host(named: $0) == nil }
        if !unknown.isEmpty {
          throw RolloutError.refused(
            "--limit: no host \(unknown.joined(separator: ", ")) in \(inventory.file); hosts: "
              + inventory.hosts.map(\.name).joined(separator: ", "))
        }
        targets = inventory.hosts.filter { limit.isEmpty || limit.contains($0.name) }.map(\.sshTarget)
        // A command can print what a container was given (`docker exec web env`): the values
        // of every plan's secrets that deployctl's environment holds are masked.
        let plans = project.playbooks.compactMap { try? $0.resolved(for: inventory) }
        masker = SecretMasker(secrets: plans.flatMap { common.secrets(for: $0).values })
      } catch {
        try reporter.fail(error, command: "exec", environment: environment, app: common.app)
      }

      let adHoc = AdHocCommand(arguments: command, timeout: try timeout.map { try Duration(parsing: $0) })
      let output = ExecOutput(
        terminal: reporter.terminal, stdoutIsReport: common.output == .json, masker: masker)
      let clock = ContinuousClock()
      let start = clock.now
      let run = Task {
        await adHoc.run(on: targets, parallel: common.parallel ?? min(targets.count, 100)) { host, line in
          output.line(host, line)
        }
      }
      let interrupt = InterruptHandler { run.cancel() }
      let outcomes = await run.value
      interrupt.stop()

      let report = AdHocReport(
        environment: environment, remoteCommand: adHoc.commandLine, outcomes: outcomes,
        duration: clock.now - start)
      if common.output == .json {
        print(masker.mask(report.jsonString()))
      }
      output.summary(report)
      throw ExitCode(report.exitCode)
    }
  }
}

/// Prints each host's lines as they arrive (stdout to stdout, stderr to stderr, prefixed with
/// the host), and the summary at the end. With `--output json` stdout holds only the report,
/// so every line goes to stderr.
final class ExecOutput: Sendable {
  let terminal: Terminal
  let stdoutIsReport: Bool
  let masker: SecretMasker
  private let lock = NSLock()

  init(terminal: Terminal, stdoutIsReport: Bool, masker: SecretMasker = SecretMasker()) {
    self.terminal = terminal
    self.stdoutIsReport = stdoutIsReport
    self.masker = masker
  }

  func line(_ host: String, _ line: OutputLine) {
    let text = Data("\(host): \(masker.mask(line.text))\n".utf8)
    lock.withLock {
      if line.stream == .stdout && !stdoutIsReport {
        FileHandle.standardOutput.write(text)
      } else {
        FileHandle.standardError.write(text)
      }
    }
  }

  func summary(_ report: AdHocReport) {
    let rows = report.hosts.map { host in
      [
        host.name, host.result, host.exitStatus.map(String.init) ?? "-",
        ProgressLog.format(.milliseconds(host.durationMs)), host.error.map { firstLine($0) } ?? "",
      ]
    }
    let lines = TextTable.lines(["HOST", "RESULT", "EXIT", "TIME", "ERROR"], rows).map(masker.mask)
    lock.withLock {
      terminal.line("")
      terminal.line(terminal.paint(lines[0], .bold))
      for (line, host) in zip(lines.dropFirst(), report.hosts) {
        terminal.line(host.result == "ok" ? line : terminal.paint(line, .red))
      }
      let ok = report.hosts.filter { $0.result == "ok" }.count
      let line = "exec \(report.environment): \(ok) of \(report.hosts.count) hosts exited 0"
      terminal.line(terminal.paint(line, ok == report.hosts.count ? .green : .red))
      if terminal.githubActions {
        for host in report.hosts where host.result != "ok" {
          terminal.line(
            GitHubActions.annotation(
              .error, masker.mask(host.error ?? "\(host.name): exit status \(host.exitStatus ?? -1)")))
        }
      }
    }
  }

  private func firstLine(_ text: String) -> String {
    String(text.split(separator: "\n").first ?? "")
  }
}

/// SIGINT and SIGTERM cancel the run: sessions close and every host not done reports
/// `interrupted`.
final class InterruptHandler: @unchecked Sendable {
  private var sources: [DispatchSourceSignal] = []

  init(_ action: @escaping @Sendable () -> Void) {
    for number in [SIGINT, SIGTERM] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler {
        FileHandle.standardError.write(Data("interrupted: closing the sessions\n".utf8))
        action()
      }
      source.resume()
      sources.append(source)
    }
  }

  func stop() {
    for source in sources { source.cancel() }
  }
}
