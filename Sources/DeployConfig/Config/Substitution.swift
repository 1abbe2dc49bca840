/// `${environment}` and `${NAME}` (a host's `vars`) in a plan's values. Keys are never
/// substituted, `app` never, and the parts that are the same on every host (`image`, `rollout`,
/// `rollback`, `hooks`, `notify`) only take `${environment}`. `$${` writes a literal `${`; a lone `$` is just a `$`.
struct Substitution {
  let environment: String
  let host: Host
  let reader: NodeReader
  private(set) var unknown: [UnknownVariable] = []
  /// Inside `verify.prometheus`, `${app}` and `${release}` stay as written: the bake window
  /// fills them in when it runs (docs/configuration.md "Prometheus analysis").
  private var deferred: Set<String> = []

  init(environment: String, host: Host, reader: NodeReader) {
    self.environment = environment
    self.host = host
    self.reader = reader
  }

  mutating func apply(to root: YAMLNode) -> YAMLNode {
    guard var pairs = root.mapping else { return root }
    for i in pairs.indices {
      let section = pairs[i].key.scalar?.text ?? ""
      switch section {
      case "app": continue
      case "image", "rollout", "rollback", "hooks", "notify":
        pairs[i].value = walk(pairs[i].value, section: section, hostVars: false)
      case "verify":
        pairs[i].value = walkVerify(pairs[i].value)
      default:
        pairs[i].value = walk(pairs[i].value, section: section, hostVars: true)
      }
    }
    var result = root
    result.value = .mapping(pairs)
    return result
  }

  private mutating func walkVerify(_ node: YAMLNode) -> YAMLNode {
    guard case .mapping(let pairs) = node.value else { return walk(node, section: "verify", hostVars: true) }
    var node = node
    node.value = .mapping(
      pairs.map { pair in
        if pair.key.scalar?.text == "prometheus" { deferred = ["app", "release"] }
        defer { deferred = [] }
        return YAMLPair(key: pair.key, value: walk(pair.value, section: "verify", hostVars: true))
      })
    return node
  }

  private mutating func walk(_ node: YAMLNode, section: String, hostVars: Bool) -> YAMLNode {
    var node = node
    switch node.value {
    case .scalar(var scalar):
      guard scalar.text.contains("$") else { return node }
      scalar.text = substitute(scalar.text, in: node, section: section, hostVars: hostVars)
      node.value = .scalar(scalar)
    case .sequence(let items):
      node.value = .sequence(items.map { walk($0, section: section, hostVars: hostVars) })
    case .mapping(let pairs):
      node.value = .mapping(
        pairs.map { YAMLPair(key: $0.key, value: walk($0.value, section: section, hostVars: hostVars)) })
    }
    return node
  }

  private mutating func substitute(_ text: String, in node: YAMLNode, section: String, hostVars: Bool)
    -> String
  {
    var out = ""
    var rest = Substring(text)
    var changed = false
    while let dollar = rest.firstIndex(of: "$") {
      out += rest[..<dollar]
      let tail = rest[dollar...]
      if tail.hasPrefix("$${") {
        out += "${"
        rest = tail.dropFirst(3)
        changed = true
        continue
      }
      guard tail.hasPrefix("${") else {
        out += "$"
        rest = tail.dropFirst()
        continue
      }
      let offset = text.distance(from: text.startIndex, to: dollar)
      guard let close = tail.firstIndex(of: "}") else {
        reader.error(
          Self.location(of: offset, in: node), "unclosed `${` (write `$${` for a literal `${`)")
        reader.suppress(node.location)
        return text
      }
      let name = String(tail[tail.index(tail.startIndex, offsetBy: 2)..<close])
      rest = tail[tail.index(after: close)...]
      guard Names.isEnvironmentVariableName(name) else {
        reader.error(
          Self.location(of: offset, in: node),
          "`${\(name)}` is not a variable; variables are `${environment}` and names from a host's `vars`")
        reader.suppress(node.location)
        return text
      }
      if deferred.contains(name) {
        out += "${\(name)}"
        continue
      } else if name == "environment" {
        out += environment
      } else if hostVars, let value = host.vars[name] {
        out += value
      } else {
        unknown.append(
          UnknownVariable(
            location: Self.location(of: offset, in: node), name: name, environment: environment,
            host: host.name,
            section: section, hostVarsAllowed: hostVars))
        reader.suppress(node.location)
        out += "${\(name)}"
        continue
      }
      changed = true
    }
    out += rest
    if changed { reader.substituted.insert(node.location) }
    return out
  }

  /// The place of the `$` in the file: exact for one-line plain and quoted scalars, the
  /// scalar's start when escapes or line breaks make the text differ from the file.
  static func location(of offset: Int, in node: YAMLNode) -> SourceLocation {
    guard let scalar = node.scalar else { return node.location }
    let before = scalar.text.prefix(offset)
    var location = node.location
    switch scalar.style {
    case .plain where !before.contains("\n"):
      location.column += offset
    case .singleQuoted where !before.contains("\n") && !before.contains("'"),
      .doubleQuoted where !before.contains("\n") && !before.contains("\\") && !before.contains("\""):
      location.column += offset + 1
    default:
      break
    }
    return location
  }
}

/// A `${NAME}` that a host could not fill in; reported once per place for all the hosts.
struct UnknownVariable: Hashable {
  var location: SourceLocation
  var name: String
  var environment: String
  var host: String
  var section: String
  var hostVarsAllowed: Bool

  static func diagnostics(_ records: [UnknownVariable], inventories: [Inventory]) -> [Diagnostic] {
    let defined = Set(inventories.flatMap { $0.hosts.flatMap(\.vars.keys) })
    // The places in the order they were first met, each with its records.
    var places: [(location: SourceLocation, records: [UnknownVariable])] = []
    var index: [SourceLocation: Int] = [:]
    for record in records {
      if let i = index[record.location] {
        places[i].records.append(record)
      } else {
        index[record.location] = places.count
        places.append((record.location, [record]))
      }
    }
    var result: [Diagnostic] = []
    for place in places {
      var byName: [String: [UnknownVariable]] = [:]
      for record in place.records { byName[record.name, default: []].append(record) }
      for (name, group) in byName.sorted(by: { $0.key < $1.key }) {
        let first = group[0]
        let message: String
        if !first.hostVarsAllowed {
          message =
            defined.contains(name)
            ? "`${\(name)}` is a host variable, but `\(first.section)` is the same on every host: only `${environment}` can be used there"
            : "unknown variable `${\(name)}`: only `${environment}` can be used in `\(first.section)`"
              + Suggestion.hint(for: name, in: ["environment"])
        } else if let suggestion = Suggestion.closest(to: name, in: ["environment"] + defined.sorted()),
          !defined.contains(name)
        {
          message = "unknown variable `${\(name)}`; did you mean `${\(suggestion)}`?"
        } else {
          var hosts: [String] = []
          for record in group where !hosts.contains("\(record.host) (\(record.environment))") {
            hosts.append("\(record.host) (\(record.environment))")
          }
          let shown =
            hosts.prefix(6).joined(separator: ", ") + (hosts.count > 6 ? " and \(hosts.count - 6) more" : "")
          message =
            "`${\(name)}` is not defined for host\(hosts.count == 1 ? "" : "s") \(shown): add `\(name)` to \(hosts.count == 1 ? "its" : "their") `vars` in the inventory"
        }
        result.append(.error(at: place.location, message))
      }
    }
    return result
  }
}
