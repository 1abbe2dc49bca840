import DeployConfig
import DeployEngine
import Foundation

/// Prints what went wrong the way editors and CI read it: configuration problems as
/// `file:line:col: error: message` lines (and, in GitHub Actions, `::error file=…` annotations
/// on those lines), any other error as `error: message`.
public struct DiagnosticsPrinter: Sendable {
  public var terminal: Terminal

  public init(terminal: Terminal = .standardError()) {
    self.terminal = terminal
  }

  public func print(_ diagnostics: [Diagnostic]) {
    for diagnostic in diagnostics {
      let label =
        diagnostic.severity == .error ? terminal.paint("error:", .red) : terminal.paint("warning:", .yellow)
      terminal.line("\(diagnostic.location): \(label) \(diagnostic.message)")
      if terminal.githubActions { terminal.line(GitHubActions.annotation(diagnostic)) }
    }
  }

  public func print(_ error: any Error, masker: SecretMasker = SecretMasker()) {
    if let config = error as? ConfigErrors {
      print(config.diagnostics)
    } else {
      terminal.error(masker.mask(String(describing: error)))
    }
  }

  /// The exit status an error means (bad input and anything unexpected before a host was
  /// touched: refused).
  public static func exitStatus(of error: any Error) -> ExitStatus {
    (error as? any DeployctlError)?.exitStatus ?? .refused
  }
}
