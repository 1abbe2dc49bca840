/// The character rules for names that end up in host paths and Docker arguments. Everything is
/// quoted anyway; these rules keep paths inside `/var/lib/deployctl/<app>/` (no `/`, no `..`)
/// and match what Docker itself accepts.
package enum NameRules {
  /// `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 128 characters: app and environment names, release
  /// ids, container names (Docker's own rule for those).
  package static func checkName(_ value: String, kind: String) throws(DockerError) {
    let bytes = Array(value.utf8)
    guard let first = bytes.first else { throw .invalidName(kind: kind, value: value, reason: "it is empty") }
    guard bytes.count <= 128 else {
      throw .invalidName(kind: kind, value: value, reason: "it is longer than 128 characters")
    }
    guard isAlnum(first) else {
      throw .invalidName(kind: kind, value: value, reason: "it must start with a letter or digit")
    }
    guard
      bytes.allSatisfy({
        isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
      })
    else {
      throw .invalidName(kind: kind, value: value, reason: "only letters, digits, _ . and - are allowed")
    }
  }

  /// Environment variable names: `[A-Za-z_][A-Za-z0-9_]*`.
  package static func checkEnvName(_ name: String) throws(DockerError) {
    let bytes = Array(name.utf8)
    guard let first = bytes.first, isAlpha(first) || first == UInt8(ascii: "_"),
      bytes.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "_") })
    else {
      throw .invalidName(
        kind: "environment variable name", value: name,
        reason: "use letters, digits and _, not starting with a digit")
    }
  }

  static func isAlpha(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
      || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
  }

  static func isAlnum(_ byte: UInt8) -> Bool {
    isAlpha(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
  }

  static func hasControlCharacters(_ value: String) -> Bool {
    value.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
  }
}
