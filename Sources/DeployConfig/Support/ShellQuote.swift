/// POSIX shell quoting for every value that reaches a remote shell (docs/operations.md "Security
/// model", ARCHITECTURE.md "Invariants"). A remote `sshd` hands our command line to the login
/// shell, so a host, name, path or env value with metacharacters must arrive as one literal
/// word, never be executed.
///
/// Single quotes are the only POSIX quoting with no special characters inside, so a value is
/// wrapped in `'…'` and each embedded `'` becomes `'\''` (close, escaped quote, reopen).
/// A NUL byte cannot travel in a command line at all; callers validate names before quoting
/// (a NUL would cut the line inside an open quote, which the shell rejects, not runs).
public enum ShellQuote {
  /// One value as one shell word. Words made only of characters no POSIX shell treats
  /// specially (letters, digits, `@%+=:,./_-`) stay bare so printed commands read naturally;
  /// everything else, including the empty string, is single-quoted.
  public static func quote(_ value: String) -> String {
    if !value.isEmpty && value.utf8.allSatisfy(isBare) {
      return value
    }
    return "'" + value.replacingAll("'", with: #"'\''"#) + "'"
  }

  /// An argument vector as one command line: each element quoted, joined by spaces.
  public static func join(_ argv: [String]) -> String {
    argv.map(quote).joined(separator: " ")
  }

  private static func isBare(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"):
      return true
    case UInt8(ascii: "@"), UInt8(ascii: "%"), UInt8(ascii: "+"), UInt8(ascii: "="),
      UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "."), UInt8(ascii: "/"),
      UInt8(ascii: "_"), UInt8(ascii: "-"):
      return true
    default:
      return false
    }
  }
}

extension String {
  /// This value as one POSIX shell word (see `ShellQuote.quote`).
  public var shellQuoted: String { ShellQuote.quote(self) }

  /// Works on Unicode scalars, not Characters: a `'` followed by a combining mark is one
  /// Character but still a quote byte to the shell, and must be escaped.
  fileprivate func replacingAll(_ target: Unicode.Scalar, with replacement: String) -> String {
    var result = String.UnicodeScalarView()
    for scalar in unicodeScalars {
      if scalar == target {
        result.append(contentsOf: replacement.unicodeScalars)
      } else {
        result.append(scalar)
      }
    }
    return String(result)
  }
}
