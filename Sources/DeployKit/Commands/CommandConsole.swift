import DeployEngine
import Foundation

/// Where a command reports: progress and tables for people on stderr, the JSON document or
/// the result table on stdout, GitHub annotations and step summary in CI, and the exit code
/// (docs/exit-codes.md). Every command ends through `finish` or `fail`.
public struct CommandConsole: Sendable {
  public var format: OutputFormat
  /// Progress, errors, the summary table (stderr).
  public var terminal: Terminal
  /// Results people asked for: tables of `status`, `history`, `lock` (stdout).
  public var standardOutput: Terminal

  public init(
    format: OutputFormat, terminal: Terminal = .standardError(), standardOutput: Terminal = .standardOutput()
  ) {
    self.format = format
    self.terminal = terminal
    self.standardOutput = standardOutput
  }

  public var diagnostics: DiagnosticsPrinter { DiagnosticsPrinter(terminal: terminal) }

  public func progress(secrets: [String] = []) -> ProgressLog {
    ProgressLog(terminal: terminal, masker: SecretMasker(secrets: secrets))
  }

  /// Prints the outcome (with `--output json` its document on stdout first) and returns the
  /// exit the command ends with.
  public func finish(_ outcome: some CommandOutcome, secrets: [String] = []) -> CommandExit {
    finish(outcome, masker: SecretMasker(secrets: secrets))
  }

  public func finish(_ outcome: some CommandOutcome, masker: SecretMasker) -> CommandExit {
    if format == .json { standardOutput.line(masker.mask(outcome.jsonString())) }
    outcome.printSummary(on: self, masker: masker)
    return CommandExit(outcome.exitCode)
  }

  /// Ends a command that failed before it could report per host: with `--output json` a
  /// document with `result` and `error`, the error on stderr (config problems as
  /// file:line:col), and its exit code.
  public func fail(_ error: any Error, command: String, environment: String?, app: String?) -> CommandExit {
    let status = DiagnosticsPrinter.exitStatus(of: error)
    if format == .json {
      let report = CommandReport(
        command: command, environment: environment, app: app, result: CommandResult(status),
        error: String(describing: error))
      standardOutput.line(report.jsonString())
    }
    // Config problems as `file:line:col: error: …` lines (and annotations on those lines).
    diagnostics.print(error)
    return CommandExit(status)
  }
}
