/// The character rules for names and paths in the configuration. Values that reach a remote
/// shell are always quoted as well (`ShellQuote`), but names with whitespace or shell
/// metacharacters are refused up front: they are almost always a mistake, and a refusal at
/// `validate` is clearer than a quoted oddity on a host.
public enum Names {
  /// `[A-Za-z_][A-Za-z0-9_]*`: what a shell and `docker run --env` accept as a variable name.
  public static func isEnvironmentVariableName(_ s: String) -> Bool {
    guard let first = s.utf8.first, isLetter(first) || first == UInt8(ascii: "_") else { return false }
    return s.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
  }

  /// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`: Docker's rule for container names. Also used for host names,
  /// environment and app names, which end up in labels, paths and container names.
  public static func isContainerName(_ s: String) -> Bool {
    guard let first = s.utf8.first, isLetter(first) || isDigit(first) else { return false }
    return s.utf8.allSatisfy { isLetter($0) || isDigit($0) || "_.-".utf8.contains($0) }
  }

  /// A Docker named volume: a container name of at least two characters.
  public static func isVolumeName(_ s: String) -> Bool {
    s.utf8.count >= 2 && isContainerName(s)
  }

  /// A login name: `[A-Za-z0-9_][A-Za-z0-9_.-]*`.
  public static func isUserName(_ s: String) -> Bool {
    guard let first = s.utf8.first, isLetter(first) || isDigit(first) || first == UInt8(ascii: "_") else {
      return false
    }
    return s.utf8.allSatisfy { isLetter($0) || isDigit($0) || "_.-".utf8.contains($0) }
  }

  /// A host name, IPv4 address or IPv6 address (with an optional `%zone`), never starting with
  /// `-` (which ssh-like tools would read as an option).
  public static func isAddress(_ s: String) -> Bool {
    guard let first = s.utf8.first, isLetter(first) || isDigit(first) || first == UInt8(ascii: ":") else {
      return false
    }
    return s.utf8.allSatisfy { isLetter($0) || isDigit($0) || ".-:%_".utf8.contains($0) }
  }

  /// A path made only of characters no shell treats specially.
  public static func isShellSafePath(_ s: String) -> Bool {
    !s.isEmpty && s.utf8.allSatisfy { isLetter($0) || isDigit($0) || "@%+=,./_-".utf8.contains($0) }
  }

  /// The first character that makes `s` fail a rule, described for a message:
  /// "` ` (a space)", "`;`".
  public static func firstOffending(_ s: String, allowed: (UInt8) -> Bool) -> String? {
    guard let scalar = s.unicodeScalars.first(where: { !$0.isASCII || !allowed(UInt8($0.value)) }) else {
      return nil
    }
    switch scalar {
    case " ": return "a space"
    case "\t": return "a tab"
    case "\n", "\r": return "a line break"
    default:
      if scalar.value < 0x20 || scalar.value == 0x7F { return "a control character" }
      return "`\(scalar)`"
    }
  }

  /// Why `s` is not shell-safe, for messages: "contains a space".
  static func shellProblem(_ s: String) -> String? {
    firstOffending(s) { isLetter($0) || isDigit($0) || "@%+=,./_-".utf8.contains($0) }.map {
      "contains \($0)"
    }
  }

  static func isLetter(_ b: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
  }

  package static func isDigit(_ b: UInt8) -> Bool {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
  }

  static func isLowerAlphanumeric(_ b: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || isDigit(b)
  }

  /// Parses a decimal integer made only of ASCII digits (no sign, no spaces, no `0x`).
  static func integer(_ s: Substring) -> Int? {
    guard !s.isEmpty, s.utf8.count <= 18, s.utf8.allSatisfy(isDigit) else { return nil }
    return Int(s)
  }
}

/// A kind of name and its rule, for messages that say what is wrong and what is allowed.
public struct NameRule: Sendable {
  public var what: String
  public var isValid: @Sendable (String) -> Bool
  /// Characters allowed anywhere in the name, to point at the one that is not.
  public var character: @Sendable (UInt8) -> Bool
  public var allowed: String

  /// Why `text` breaks the rule, or nil when it does not.
  public func problem(_ text: String) -> String? {
    guard !isValid(text) else { return nil }
    if text.isEmpty { return "an empty \(what)" }
    var detail = Names.firstOffending(text, allowed: character).map { " (it contains \($0))" } ?? ""
    if let first = text.unicodeScalars.first, first.isASCII, character(UInt8(first.value)),
      !isValid(String(first))
    {
      detail = " (it starts with `\(first)`)"
    }
    return "`\(text)` is not a valid \(what)\(detail); use \(allowed)"
  }

  static let nameCharacter: @Sendable (UInt8) -> Bool = {
    Names.isLetter($0) || Names.isDigit($0) || "_.-".utf8.contains($0)
  }

  public static let containerName = containerNameRule(for: "container name")
  public static let hostName = containerNameRule(for: "host name")
  public static let environmentName = containerNameRule(for: "environment name")
  public static let appName = containerNameRule(for: "app name")

  /// Host, environment and app names end up in labels, paths and container names, so they follow
  /// Docker's rule for container names.
  private static func containerNameRule(for what: String) -> NameRule {
    NameRule(
      what: what, isValid: Names.isContainerName, character: nameCharacter,
      allowed: "letters, digits and `_.-`, starting with a letter or digit")
  }

  public static let userName = NameRule(
    what: "user name", isValid: Names.isUserName, character: nameCharacter,
    allowed: "letters, digits and `_.-`, not starting with `-` or `.`")
  public static let address = NameRule(
    what: "address", isValid: Names.isAddress,
    character: { Names.isLetter($0) || Names.isDigit($0) || ".-:%_".utf8.contains($0) },
    allowed: "a host name or an IP address")
  public static let variableName = NameRule(
    what: "variable name", isValid: Names.isEnvironmentVariableName,
    character: { Names.isLetter($0) || Names.isDigit($0) || $0 == UInt8(ascii: "_") },
    allowed: "letters, digits and `_`, not starting with a digit (`[A-Za-z_][A-Za-z0-9_]*`)")
}
