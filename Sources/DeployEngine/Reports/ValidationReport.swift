import DeployConfig
import Foundation

/// The JSON document of `validate --output json`.
public struct ValidationReport: Codable, Sendable, Equatable {
  public struct Entry: Codable, Sendable, Equatable {
    public var file: String
    /// nil when the problem is with the file or folder as a whole.
    public var line: Int?
    public var column: Int?
    public var severity: Diagnostic.Severity
    public var message: String

    public init(_ diagnostic: Diagnostic) {
      file = diagnostic.location.file
      line = diagnostic.location.line > 0 ? diagnostic.location.line : nil
      column = diagnostic.location.line > 0 ? diagnostic.location.column : nil
      severity = diagnostic.severity
      message = diagnostic.message
    }
  }

  public var command: String = "validate"
  public var valid: Bool
  /// `success`, or `refused` (exit 2) when there is an error; the same words as every command.
  public var result: CommandResult
  public var exitCode: Int32
  public var diagnostics: [Entry]
  public var environments: [String]
  public var apps: [String]

  enum CodingKeys: String, CodingKey {
    case command, valid, result, diagnostics, environments, apps
    case exitCode = "exit_code"
  }

  public init(_ validation: ProjectValidation) {
    valid = validation.isValid
    result = validation.isValid ? .success : .refused
    exitCode = result.exitStatus.rawValue
    diagnostics = validation.diagnostics.map(Entry.init)
    environments = validation.environments
    apps = validation.apps
  }
}

extension GitHubActions {
  /// `::error file=…,line=…,col=…::message`: GitHub shows it on the line in the diff.
  public static func annotation(_ diagnostic: Diagnostic) -> String {
    let level: Level = diagnostic.severity == .error ? .error : .warning
    func property(_ value: String) -> String {
      value.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D")
        .replacingOccurrences(of: "\n", with: "%0A").replacingOccurrences(of: ":", with: "%3A")
        .replacingOccurrences(of: ",", with: "%2C")
    }
    var properties = "file=\(property(diagnostic.location.file))"
    if diagnostic.location.line > 0 {
      properties += ",line=\(diagnostic.location.line),col=\(diagnostic.location.column)"
    }
    let message = diagnostic.message.replacingOccurrences(of: "%", with: "%25")
      .replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    return "::\(level.rawValue) \(properties)::\(message)"
  }
}
