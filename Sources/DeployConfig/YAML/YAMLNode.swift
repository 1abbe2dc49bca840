/// One node of a parsed YAML document, with where it starts in its file. Aliases are already
/// expanded (a copy of the anchored node, positions of the anchored original) and `<<` merge
/// keys applied, so readers only ever see scalars, sequences and mappings.
public struct YAMLNode: Sendable, Equatable {
  public enum Value: Sendable, Equatable {
    case scalar(YAMLScalar)
    case sequence([YAMLNode])
    /// Key/value pairs in file order. Keys are nodes, so they have positions too.
    case mapping([YAMLPair])
  }

  public var value: Value
  public var location: SourceLocation
  /// An explicit tag (`!!str 25` gives `tag:yaml.org,2002:str`); nil when none was written.
  public var tag: String?

  public init(_ value: Value, location: SourceLocation, tag: String? = nil) {
    self.value = value
    self.location = location
    self.tag = tag
  }

  public var scalar: YAMLScalar? {
    if case .scalar(let s) = value { return s }
    return nil
  }

  public var sequence: [YAMLNode]? {
    if case .sequence(let items) = value { return items }
    return nil
  }

  public var mapping: [YAMLPair]? {
    if case .mapping(let pairs) = value { return pairs }
    return nil
  }

  /// `~`, `null`, `Null`, `NULL` or nothing at all, written plain and untagged.
  public var isNull: Bool {
    guard let s = scalar, s.style == .plain, tag == nil else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(s.text)
  }

  /// A plain, untagged scalar: the only kind that may be read as a number or a boolean.
  /// `"8080"`, `'8080'` and `!!str 8080` are strings.
  public var isPlainScalar: Bool {
    scalar?.style == .plain && tag == nil
  }

  /// The value of `key` in a mapping whose keys are scalars.
  public subscript(key: String) -> YAMLNode? {
    mapping?.first { $0.key.scalar?.text == key }?.value
  }

  /// What kind of node this is, for messages ("found a list").
  public var kindDescription: String {
    switch value {
    case .scalar(let s):
      if isNull { return "nothing (null)" }
      return s.style == .plain ? "`\(s.text)`" : "the string \"\(s.text)\""
    case .sequence: return "a list"
    case .mapping: return "a mapping"
    }
  }
}

public struct YAMLPair: Sendable, Equatable {
  public var key: YAMLNode
  public var value: YAMLNode

  public init(key: YAMLNode, value: YAMLNode) {
    self.key = key
    self.value = value
  }
}

public struct YAMLScalar: Sendable, Equatable {
  public enum Style: Sendable, Equatable {
    case plain
    case singleQuoted
    case doubleQuoted
    case literal
    case folded
  }

  public var text: String
  public var style: Style

  public init(_ text: String, style: Style = .plain) {
    self.text = text
    self.style = style
  }
}
