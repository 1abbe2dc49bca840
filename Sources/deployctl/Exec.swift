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
      let terminal = Terminal.standardError()
      if let problem = argumentProblem() {
        terminal.error(problem)
        throw ExitCode(ExitStatus.refused.rawValue)
      }
      let inventory = try common.loadProject().inventory(named: environment)
      let limit = common.limitedHosts
      let unknown = limit.filter { inventory.host(named: $0) == nil }
      if !unknown.isEmpty {
        terminal.error(
          "--limit: no host \(unknown.joined(separator: ", ")) in \(inventory.file); hosts: "
            + inventory.hosts.map(\.name).joined(separator: ", "))
        throw ExitCode(ExitStatus.refused.rawValue)
      }
      let targets = inventory.hosts.filter { limit.isEmpty || limit.contains($0.name) }.map(\.sshTarget)

      let adHoc = AdHocCommand(arguments: command, timeout: try timeout.map { try Duration(parsing: $0) })
      let output = ExecOutput(terminal: terminal, stdoutIsReport: common.output == .json)
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
        print(report.jsonString())
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
  private let lock = NSLock()

  init(terminal: Terminal, stdoutIsReport: Bool) {
    self.terminal = terminal
    self.stdoutIsReport = stdoutIsReport
  }

  func line(_ host: String, _ line: OutputLine) {
    let text = Data("\(host): \(line.text)\n".utf8)
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
    let header = ["HOST", "RESULT", "EXIT", "TIME", "ERROR"]
    var widths = header.map(\.count)
    for row in rows {
      for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
    }
    func render(_ row: [String]) -> String {
      row.enumerated().map { i, cell in
        i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
      }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }
    lock.withLock {
      terminal.line("")
      terminal.line(terminal.paint(render(header), .bold))
      for (row, host) in zip(rows, report.hosts) {
        terminal.line(host.result == "ok" ? render(row) : terminal.paint(render(row), .red))
      }
      let ok = report.hosts.filter { $0.result == "ok" }.count
      let line = "exec \(report.environment): \(ok) of \(report.hosts.count) hosts exited 0"
      terminal.line(terminal.paint(line, ok == report.hosts.count ? .green : .red))
      if terminal.githubActions {
        for host in report.hosts where host.result != "ok" {
          terminal.line(
            GitHubActions.annotation(
              .error, host.error ?? "\(host.name): exit status \(host.exitStatus ?? -1)"))
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
