import DeployConfig
import DeployEngine
import Foundation

/// `--output`: text for people, one JSON document on stdout for scripts.
public enum OutputFormat: String, CaseIterable, Sendable {
  case text
  case json
}

/// How any command ends, as a value: its exit code, its JSON document (`Encodable`), and what
/// people read (a table, a summary line). `CommandConsole.finish` prints it.
public protocol CommandOutcome: Encodable, Sendable {
  var exitCode: Int32 { get }
  /// The text part of the outcome. With `--output json` stdout already holds the document, so
  /// anything printed here then goes to stderr.
  func printSummary(on console: CommandConsole, masker: SecretMasker)
}

/// The end of a command: the process exits with `status` (docs/exit-codes.md).
public struct CommandExit: Error, Sendable, Equatable {
  public var status: Int32

  public init(_ status: Int32) {
    self.status = status
  }

  public init(_ status: ExitStatus) {
    self.status = status.rawValue
  }
}

extension CommandReport: CommandOutcome {
  /// The per-host table, the error, GitHub annotations and summary, and a last line saying how
  /// it ended; all on stderr.
  public func printSummary(on console: CommandConsole, masker: SecretMasker) {
    let terminal = console.terminal
    if !hosts.isEmpty {
      terminal.line("")
      terminal.line(masker.mask(SummaryTable.text(self, terminal: terminal)))
    }
    if let verification {
      terminal.line("")
      terminal.line("verification (via \(verification.via)): \(verification.passed ? "passed" : "failed")")
      for host in verification.hosts { terminal.line("  " + masker.mask(host.summary)) }
      for line in verification.prometheus?.summary ?? [] { terminal.line("  " + masker.mask(line)) }
    }
    for hook in hooks where hook.result == .failed {
      terminal.line(
        masker.mask("hook \(hook.name.rawValue) failed: \(hook.error ?? "exit \(hook.exitStatus ?? -1)")"))
    }
    for notification in notifications {
      if let warning = notification.warning { terminal.line(masker.mask(warning)) }
    }
    if let error { terminal.error(masker.mask(error)) }
    for host in hosts where terminal.githubActions {
      if let error = host.error {
        terminal.line(GitHubActions.annotation(.error, masker.mask("\(host.name): \(error)")))
      }
    }
    if let path = terminal.stepSummaryPath {
      do {
        try GitHubActions.appendSummary(masker.mask(SummaryTable.markdown(self)), to: path)
      } catch {
        terminal.warning("the step summary was not written to \(path): \(error.localizedDescription)")
      }
    }
    let route = promotedFrom.map { "\($0) → " } ?? ""
    let line =
      "\(command) \(route)\(environment ?? ""): \(result.rawValue)"
      + (release.map { " (release \($0.id), \($0.image))" } ?? "")
    terminal.line(result == .success ? terminal.paint(line, .green) : terminal.paint(line, .red))
  }
}

extension StatusReport: CommandOutcome {
  public func printSummary(on console: CommandConsole, masker: SecretMasker) {
    if console.format == .text { console.standardOutput.line(masker.mask(StatusTable.text(self))) }
  }
}

extension HistoryReport: CommandOutcome {
  public func printSummary(on console: CommandConsole, masker: SecretMasker) {
    if console.format == .text {
      console.standardOutput.line(HistoryTable.text(self, terminal: Terminal.standardOutput()))
    }
    for host in hosts where !host.reachable {
      console.terminal.warning("\(host.name): history not read: \(host.error ?? "unreachable")")
    }
  }
}

extension LockCommand.Report: CommandOutcome {
  public func printSummary(on console: CommandConsole, masker: SecretMasker) {
    guard console.format == .text else { return }
    for host in hosts {
      var lease = ""
      if let expiresIn = host.expiresIn {
        lease =
          expiresIn > 0
          ? "; lease renewed, expires in \(expiresIn)s"
          : "; stopped renewing: expired \(-expiresIn)s ago, the next run takes it over"
      }
      console.standardOutput.line(
        "\(host.name): \(host.state)" + (host.holder.map { " by \($0)" } ?? "") + lease
          + (host.error.map { " (\($0))" } ?? ""))
    }
  }
}

extension ValidationReport: CommandOutcome {
  /// The problems themselves are printed as they are found (`DiagnosticsPrinter`); this is the
  /// last line: what is valid, or how many problems there are.
  public func printSummary(on console: CommandConsole, masker: SecretMasker) {
    guard console.format == .text else { return }
    let errors = diagnostics.filter { $0.severity == .error }.count
    let warnings = diagnostics.count - errors
    func count(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
    if valid {
      let tail = warnings > 0 ? " (\(count(warnings, "warning")))" : ""
      console.standardOutput.line(
        "valid: environments \(environments.joined(separator: ", ")); apps \(apps.joined(separator: ", "))\(tail)"
      )
    } else {
      console.terminal.line(count(errors, "error") + (warnings > 0 ? ", \(count(warnings, "warning"))" : ""))
    }
  }
}
