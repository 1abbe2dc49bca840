/// One problem found in the configuration, printed the way compilers print them so editors and
/// CI can jump to it: `inventories/prod.yml:12:5: error: message`.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
  public enum Severity: String, Sendable, Hashable, Codable {
    case error
    case warning
  }

  public var severity: Severity
  public var location: SourceLocation
  public var message: String

  public init(_ severity: Severity, at location: SourceLocation, _ message: String) {
    self.severity = severity
    self.location = location
    self.message = message
  }

  public static func error(at location: SourceLocation, _ message: String) -> Diagnostic {
    Diagnostic(.error, at: location, message)
  }

  public static func warning(at location: SourceLocation, _ message: String) -> Diagnostic {
    Diagnostic(.warning, at: location, message)
  }

  public var description: String { "\(location): \(severity.rawValue): \(message)" }

  /// Sorted by file and position, errors before warnings at the same place, duplicates
  /// (the same problem found once per host or environment) removed.
  public static func normalized(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
    var seen = Set<Diagnostic>()
    let unique = diagnostics.filter { seen.insert($0).inserted }
    return unique.enumerated().sorted { a, b in
      if a.element.location != b.element.location { return a.element.location < b.element.location }
      if a.element.severity != b.element.severity { return a.element.severity == .error }
      return a.offset < b.offset
    }.map(\.element)
  }
}

/// The configuration is not usable: every problem found, in file order. Warnings found along
/// the way are included, so printing the error shows the whole picture.
public struct ConfigErrors: DeployctlError, Equatable {
  public var diagnostics: [Diagnostic]

  public init(_ diagnostics: [Diagnostic]) {
    self.diagnostics = Diagnostic.normalized(diagnostics)
  }

  public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
  public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }

  public var exitStatus: ExitStatus { .refused }

  public var description: String {
    diagnostics.map(\.description).joined(separator: "\n")
  }
}
