/// `verify.prometheus` and `notify: [{pushgateway: …}]` of a plan (docs/configuration.md
/// "Prometheus analysis", "Notifications").
extension PlanDecoder {
  static let prometheusKeys = ["url", "url_secret", "via", "interval", "duration", "queries"]
  static let prometheusQueryKeys = ["name", "query", "max", "min", "failure_limit"]

  func prometheus(_ node: YAMLNode, _ path: ConfigPath) -> PrometheusSpec? {
    guard let m = reader.mapping(node, path, known: Self.prometheusKeys, required: ["queries"]) else {
      return nil
    }
    var ok = true
    let url = endpointURL(m, path, example: "http://prometheus.internal:9090")
    if url == nil { ok = false }
    var spec = PrometheusSpec(url: url ?? .literal(""))
    read(m["via"], &ok, { reader.parse($0, path.key("via"), "`direct` or `ssh`", Self.parseVia) }) {
      spec.via = $0
    }
    read(m["interval"], &ok, { reader.duration($0, path.key("interval"), minimum: .seconds(1)) }) {
      spec.interval = $0
    }
    read(m["duration"], &ok, { reader.duration($0, path.key("duration"), minimum: .seconds(1)) }) {
      spec.duration = $0
    }
    if ok, spec.duration < spec.interval, let n = m["duration"] ?? m["interval"] {
      reader.error(
        n.location,
        "`\(path.key("duration"))` (\(spec.duration.configText)) is shorter than `\(path.key("interval"))` (\(spec.interval.configText)): the window must hold at least one measurement"
      )
      ok = false
    }
    if let n = m["queries"], let items = reader.list(n, path.key("queries")) {
      if items.isEmpty {
        reader.error(
          n.location, "`\(path.key("queries"))` is empty; add `- {name: error-rate, query: …, max: 0.01}`")
        ok = false
      }
      for (i, item) in items.enumerated() {
        guard let query = prometheusQuery(item, path.key("queries").index(i)) else {
          ok = false
          continue
        }
        if spec.queries.contains(where: { $0.name == query.name }) {
          reader.error(
            item.location,
            "two queries in `\(path.key("queries"))` are named `\(query.name)`; give each its own name")
          ok = false
        }
        spec.queries.append(query)
      }
    } else {
      ok = false
    }
    return ok ? spec : nil
  }

  private func prometheusQuery(_ node: YAMLNode, _ path: ConfigPath) -> PrometheusQuerySpec? {
    guard
      let m = reader.mapping(node, path, known: Self.prometheusQueryKeys, required: ["name", "query"]),
      let nameNode = m["name"], let queryNode = m["query"]
    else { return nil }
    var ok = true
    let name = reader.name(nameNode, path.key("name"), Self.queryName)
    let query = reader.string(queryNode, path.key("query"))
    if name == nil || query == nil { ok = false }
    if let query, query.allSatisfy(\.isWhitespace) {
      reader.error(queryNode.location, "`\(path.key("query"))` is empty; write a PromQL expression")
      ok = false
    }
    var spec = PrometheusQuerySpec(name: name ?? "", query: query ?? "")
    read(m["max"], &ok, { reader.parse($0, path.key("max"), "a number", Self.parseNumber) }) { spec.max = $0 }
    read(m["min"], &ok, { reader.parse($0, path.key("min"), "a number", Self.parseNumber) }) { spec.min = $0 }
    read(
      m["failure_limit"], &ok,
      { reader.integer($0, path.key("failure_limit"), 0...1_000_000, "a number of failed measurements") }
    ) { spec.failureLimit = $0 }
    if ok, spec.max == nil, spec.min == nil {
      reader.error(
        node.location,
        "\(path.quoted) has no bound: add `max:` (a value above it fails) or `min:` (a value below it fails)")
      ok = false
    }
    if ok, let max = spec.max, let min = spec.min, min > max, let n = m["min"] {
      reader.error(
        n.location,
        "`\(path.key("min"))` (\(Self.numberText(min))) is above `\(path.key("max"))` (\(Self.numberText(max))); nothing can pass"
      )
      ok = false
    }
    return ok ? spec : nil
  }

  /// A query's name is in messages and JSON only: the container-name rule (`error-rate`).
  static let queryName = NameRule(
    what: "query name", isValid: Names.isContainerName, character: NameRule.nameCharacter,
    allowed: "letters, digits and `_.-`, starting with a letter or digit")

  static func numberText(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
  }

  static func parseNumber(_ text: String) throws(ValueError) -> Double {
    guard let value = Double(text), value.isFinite else {
      throw ValueError("`\(text)` is not a number; write e.g. `0.01` or `250`")
    }
    return value
  }

  /// `url:` or `url_secret:` of `m`, exactly one; the URL must be http or https.
  func endpointURL(_ m: NodeReader.Mapping, _ path: ConfigPath, example: String) -> EndpointURL? {
    switch (m["url"], m["url_secret"]) {
    case (let n?, nil):
      guard let text = reader.string(n, path.key("url")) else { return nil }
      let lower = text.lowercased()
      guard lower.hasPrefix("http://") || lower.hasPrefix("https://"),
        !text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
      else {
        reader.error(n.location, "`\(path.key("url"))` must be an http:// or https:// URL, e.g. `\(example)`")
        return nil
      }
      return .literal(text.hasSuffix("/") ? String(text.dropLast()) : text)
    case (nil, let n?):
      return reader.name(n, path.key("url_secret"), .variableName).map { .secret($0) }
    case (_?, _?):
      reader.error(
        m.node.location,
        "\(path.quoted) has both `url` and `url_secret`; keep `url_secret` if the URL carries credentials")
      return nil
    case (nil, nil):
      reader.error(
        m.node.location,
        "\(path.quoted) needs `url: \(example)` or `url_secret: NAME` (a variable in deployctl's environment)"
      )
      return nil
    }
  }

  /// `pushgateway: {url: …}` or `{url_secret: NAME}` of a `notify:` entry.
  func pushgateway(_ node: YAMLNode, _ path: ConfigPath) -> NotifyTarget? {
    guard let m = reader.mapping(node, path, known: ["url", "url_secret"]) else {
      if node.isNull {
        reader.error(
          node.location, "\(path.quoted) is empty; write `{url: http://pushgateway.internal:9091}`")
      }
      return nil
    }
    return endpointURL(m, path, example: "http://pushgateway.internal:9091").map { .pushgateway($0) }
  }
}
