/// Reads YAML nodes into model values for one file, collecting every problem as a diagnostic
/// instead of stopping at the first, and recording where each value came from.
final class NodeReader {
  private(set) var diagnostics: [Diagnostic] = []
  var sourceMap: SourceMap
  /// Places whose text had `${…}` substituted, and for what, so a bad value there says which
  /// host's variables produced it.
  var substituted: Set<SourceLocation> = []
  var substitutionContext = ""
  /// Values that still hold an unknown `${…}`: that is reported once, and what the raw text
  /// would fail to parse as is not reported on top of it.
  private var suppressed: Set<SourceLocation> = []

  init(root: SourceLocation) {
    sourceMap = SourceMap(root: root)
  }

  var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

  func suppress(_ location: SourceLocation) {
    suppressed.insert(location)
  }

  func error(_ location: SourceLocation, _ message: String) {
    if suppressed.contains(location) { return }
    var message = message
    if substituted.contains(location) && !substitutionContext.isEmpty {
      message += " (after substitution \(substitutionContext))"
    }
    diagnostics.append(.error(at: location, message))
  }

  func warning(_ location: SourceLocation, _ message: String) {
    diagnostics.append(.warning(at: location, message))
  }

  func absorb(_ other: [Diagnostic]) {
    diagnostics += other
  }

  /// A mapping whose keys are read by name. Null values count as absent: `jump:` with nothing
  /// after it means "no jump host", the same as leaving the key out.
  struct Mapping {
    var node: YAMLNode
    var path: ConfigPath

    subscript(key: String) -> YAMLNode? {
      guard let value = node[key], !value.isNull else { return nil }
      return value
    }

    /// The key node itself, for messages about the key rather than its value.
    func keyNode(_ key: String) -> YAMLNode? {
      node.mapping?.first { $0.key.scalar?.text == key }?.key
    }
  }

  /// Reads `node` as a mapping, reporting each key not in `known` (with a suggestion) and each
  /// key of `required` that is missing or empty (at the mapping, which is where it goes).
  /// `known: nil` takes any key (names chosen by the user: hosts, vars, env).
  func mapping(
    _ node: YAMLNode, _ path: ConfigPath, known: [String]?, required: [String] = []
  ) -> Mapping? {
    guard let pairs = node.mapping else {
      if node.isNull && !required.isEmpty {
        error(
          node.location,
          "\(path.quoted) is empty; it needs \(required.map { "`\($0)`" }.joined(separator: ", "))")
      } else if !node.isNull {
        error(
          node.location,
          "\(path.quoted) must be a mapping (`key: value` lines), found \(node.kindDescription)")
      }
      return nil
    }
    sourceMap.record(path.text, node.location)
    for pair in pairs {
      guard let key = pair.key.scalar?.text else {
        error(
          pair.key.location, "keys in \(path.quoted) must be plain names, found \(pair.key.kindDescription)")
        continue
      }
      if let known, !known.contains(key) {
        let place = path.text.isEmpty ? "" : " in \(path.quoted)"
        let hint =
          Suggestion.closest(to: key, in: known).map { "; did you mean `\($0)`?" }
          ?? "; known keys: " + known.joined(separator: ", ")
        error(pair.key.location, "unknown key `\(key)`\(place)\(hint)")
      }
    }
    let mapping = Mapping(node: node, path: path)
    for key in required {
      guard let value = node[key] else {
        error(
          node.location,
          "\(path.text.isEmpty ? "missing" : "\(path.quoted) is missing") required key `\(key)`")
        continue
      }
      if value.isNull {
        error(value.location, "`\(path.key(key))` has no value")
      }
    }
    return mapping
  }

  /// Any scalar as text: `user: 1000` is the user named "1000".
  func string(_ node: YAMLNode, _ path: ConfigPath) -> String? {
    guard let scalar = node.scalar, !node.isNull else {
      error(node.location, "\(path.quoted) must be a single value, found \(node.kindDescription)")
      return nil
    }
    sourceMap.record(path.text, node.location)
    return scalar.text
  }

  /// A plain whole number. `"8080"` is refused: it is a string, and quoting a number where one
  /// is expected usually means something else was meant.
  func integer(_ node: YAMLNode, _ path: ConfigPath, _ range: ClosedRange<Int>, _ what: String) -> Int? {
    let expected =
      "\(what) (\(range.upperBound == Int.max ? "\(range.lowerBound) or more" : "\(range.lowerBound)-\(range.upperBound)"))"
    guard let scalar = node.scalar, !node.isNull else {
      error(node.location, "\(path.quoted) must be \(expected), found \(node.kindDescription)")
      return nil
    }
    let digits = scalar.text.hasPrefix("-") ? scalar.text.dropFirst() : Substring(scalar.text)
    guard let magnitude = Names.integer(digits) else {
      error(node.location, "\(path.quoted) must be \(expected), found \(node.kindDescription)")
      return nil
    }
    if !node.isPlainScalar {
      error(
        node.location,
        "\(path.quoted) must be \(expected), found the string \"\(scalar.text)\"; remove the quotes")
      return nil
    }
    let value = scalar.text.hasPrefix("-") ? -magnitude : magnitude
    guard range.contains(value) else {
      error(node.location, "\(path.quoted) must be \(expected), found \(value)")
      return nil
    }
    sourceMap.record(path.text, node.location)
    return value
  }

  func port(_ node: YAMLNode, _ path: ConfigPath) -> Int? {
    integer(node, path, 1...65535, "a port number")
  }

  func bool(_ node: YAMLNode, _ path: ConfigPath) -> Bool? {
    guard node.isPlainScalar, let text = node.scalar?.text else {
      error(node.location, "\(path.quoted) must be true or false, found \(node.kindDescription)")
      return nil
    }
    switch text {
    case "true", "True", "TRUE": return record(path, node, true)
    case "false", "False", "FALSE": return record(path, node, false)
    default:
      error(node.location, "\(path.quoted) must be true or false, found \(node.kindDescription)")
      return nil
    }
  }

  private func record<T>(_ path: ConfigPath, _ node: YAMLNode, _ value: T) -> T {
    sourceMap.record(path.text, node.location)
    return value
  }

  /// A scalar parsed by one of the value types (`PortMapping(parsing:)`, …); the parser's
  /// message becomes the diagnostic.
  func parse<T>(
    _ node: YAMLNode, _ path: ConfigPath, _ what: String, _ parser: (String) throws(ValueError) -> T
  )
    -> T?
  {
    guard let scalar = node.scalar, !node.isNull else {
      error(node.location, "\(path.quoted) must be \(what), found \(node.kindDescription)")
      return nil
    }
    do {
      return record(path, node, try parser(scalar.text))
    } catch {
      self.error(node.location, "\(path.quoted): \(error.message)")
      return nil
    }
  }

  func duration(_ node: YAMLNode, _ path: ConfigPath, minimum: Duration = .zero) -> Duration? {
    guard
      let value = parse(
        node, path, "a duration like `10s`", { (t: String) throws(ValueError) in try Duration(parsing: t) })
    else { return nil }
    if value < minimum || (minimum > .zero && value == .zero) {
      error(node.location, "\(path.quoted) must be at least \(minimum.configText)")
      return nil
    }
    return value
  }

  /// A list. A single value where a list is expected is refused with the fix spelled out.
  func list(_ node: YAMLNode, _ path: ConfigPath) -> [YAMLNode]? {
    guard let items = node.sequence else {
      let example = node.scalar.map { " (`[\($0.style == .plain ? $0.text : "\"\($0.text)\"")]`)" } ?? ""
      error(node.location, "\(path.quoted) must be a list\(example), found \(node.kindDescription)")
      return nil
    }
    sourceMap.record(path.text, node.location)
    return items
  }

  /// A name checked by one of `Names`' rules, refused with what is allowed.
  func name(_ node: YAMLNode, _ path: ConfigPath, _ rule: NameRule) -> String? {
    guard let text = string(node, path) else { return nil }
    if let problem = rule.problem(text) {
      error(node.location, "\(path.quoted): \(problem)")
      return nil
    }
    return text
  }
}
