/// `verify:`, `hooks:` and `notify:` of a plan (docs/configuration.md "Verification", "Hooks",
/// "Notifications").
extension PlanDecoder {
  static let verifyKeys = ["via", "smoke", "load", "prometheus"]
  static let smokeKeys = ["port", "path", "expect", "contains"]
  static let loadKeys = ["port", "path", "requests", "concurrency", "max_error_rate", "p95", "timeout"]
  static let hookKeys = ["pre_deploy", "post_deploy", "on_failure", "timeout"]

  // MARK: verify

  /// nil with no error: no `verify:`. `.failure` when something in it is wrong (reported).
  func verify(_ node: YAMLNode?) -> Result<VerifySpec?, Invalid> {
    guard let node else { return .success(nil) }
    let path = ConfigPath.root.key("verify")
    guard let m = reader.mapping(node, path, known: Self.verifyKeys) else { return .failure(Invalid()) }
    var spec = VerifySpec()
    var ok = true
    read(m["via"], &ok, { reader.parse($0, path.key("via"), "`ssh` or `direct`", Self.parseVia) }) {
      spec.via = $0
    }
    if let n = m["smoke"], let items = reader.list(n, path.key("smoke")) {
      for (i, item) in items.enumerated() {
        if let check = smoke(item, path.key("smoke").index(i)) {
          spec.smoke.append(check)
        } else {
          ok = false
        }
      }
    } else if m["smoke"] != nil {
      ok = false
    }
    read(m["load"], &ok, { load($0, path.key("load")) }) { spec.load = $0 }
    read(m["prometheus"], &ok, { prometheus($0, path.key("prometheus")) }) { spec.prometheus = $0 }
    if ok && spec.smoke.isEmpty && spec.load == nil && spec.prometheus == nil {
      reader.error(
        node.location,
        "`verify` has nothing to check: add `smoke: [{port: 8080, path: /version}]` or `load: {port: 8080, requests: 1000, concurrency: 10}`"
      )
      ok = false
    }
    return ok ? .success(spec) : .failure(Invalid())
  }

  struct Invalid: Error {}

  static func parseVia(_ text: String) throws(ValueError) -> HealthSpec.Via {
    guard let via = HealthSpec.Via(rawValue: text) else {
      throw ValueError(
        "`\(text)` is not a way to check: `ssh` (from the host, through SSH) or `direct` (from here to the host's address)"
      )
    }
    return via
  }

  private func smoke(_ node: YAMLNode, _ path: ConfigPath) -> SmokeCheckSpec? {
    guard let m = reader.mapping(node, path, known: Self.smokeKeys, required: ["port"]),
      let portNode = m["port"]
    else { return nil }
    var ok = true
    let port = reader.port(portNode, path.key("port"))
    if port == nil { ok = false }
    var check = SmokeCheckSpec(port: port ?? 0)
    read(m["path"], &ok, { urlPath($0, path.key("path")) }) { check.path = $0 }
    read(m["expect"], &ok, { reader.integer($0, path.key("expect"), 100...599, "an HTTP status") }) {
      check.expectStatus = $0
    }
    if let n = m["contains"] {
      if let text = reader.string(n, path.key("contains")) {
        if text.isEmpty {
          reader.error(
            n.location, "`\(path.key("contains"))` is empty; remove it or give the text to look for")
          ok = false
        } else {
          check.bodyContains = text
        }
      } else {
        ok = false
      }
    }
    return ok ? check : nil
  }

  private func load(_ node: YAMLNode, _ path: ConfigPath) -> LoadTestSpec? {
    guard let m = reader.mapping(node, path, known: Self.loadKeys, required: ["port"]),
      let portNode = m["port"]
    else { return nil }
    var ok = true
    let port = reader.port(portNode, path.key("port"))
    if port == nil { ok = false }
    var spec = LoadTestSpec(port: port ?? 0)
    read(m["path"], &ok, { urlPath($0, path.key("path")) }) { spec.path = $0 }
    read(
      m["requests"], &ok, { reader.integer($0, path.key("requests"), 1...10_000_000, "a number of requests") }
    ) { spec.requests = $0 }
    read(
      m["concurrency"], &ok,
      { reader.integer($0, path.key("concurrency"), 1...1000, "a number of requests in flight") }
    ) { spec.concurrency = $0 }
    read(
      m["max_error_rate"], &ok,
      { reader.parse($0, path.key("max_error_rate"), "a percentage like `1%`", ErrorRate.parse) }
    ) { spec.maxErrorRate = $0 }
    read(m["p95"], &ok, { reader.duration($0, path.key("p95"), minimum: .milliseconds(1)) }) { spec.p95 = $0 }
    read(m["timeout"], &ok, { reader.duration($0, path.key("timeout"), minimum: .milliseconds(1)) }) {
      spec.requestTimeout = $0
    }
    if ok, spec.concurrency > spec.requests, let n = m["concurrency"] {
      reader.warning(
        n.location,
        "`\(path.key("concurrency"))` is \(spec.concurrency), more than the \(spec.requests) requests; at most \(spec.requests) are in flight"
      )
    }
    return ok ? spec : nil
  }

  /// A URL path as `health.http.path` takes it.
  private func urlPath(_ node: YAMLNode, _ path: ConfigPath) -> String? {
    guard let text = reader.string(node, path) else { return nil }
    if !text.hasPrefix("/") {
      reader.error(node.location, "\(path.quoted) must start with `/`, e.g. `/version`")
      return nil
    }
    if let bad = Names.firstOffending(text, allowed: { $0 > 0x20 && $0 < 0x7F }) {
      reader.error(node.location, "\(path.quoted) contains \(bad); percent-encode it")
      return nil
    }
    return text
  }

  // MARK: hooks

  func hooks(_ node: YAMLNode?) -> HooksSpec? {
    var spec = HooksSpec()
    guard let node else { return spec }
    let path = ConfigPath.root.key("hooks")
    guard let m = reader.mapping(node, path, known: Self.hookKeys) else { return nil }
    var ok = true
    for stage in HooksSpec.Stage.allCases {
      guard let n = m[stage.rawValue] else { continue }
      guard let argv = hookCommand(n, path.key(stage.rawValue)) else {
        ok = false
        continue
      }
      switch stage {
      case .preDeploy: spec.preDeploy = argv
      case .postDeploy: spec.postDeploy = argv
      case .onFailure: spec.onFailure = argv
      }
    }
    read(m["timeout"], &ok, { reader.duration($0, path.key("timeout"), minimum: .milliseconds(1)) }) {
      spec.timeout = $0
    }
    return ok ? spec : nil
  }

  private func hookCommand(_ node: YAMLNode, _ path: ConfigPath) -> [String]? {
    arguments(
      node, path,
      "a command as a list of arguments (no shell), e.g. `[\"./hooks/announce\", \"--channel\", \"ops\"]`",
      namingProgram: true)
  }

  // MARK: notify

  func notify(_ node: YAMLNode?) -> [NotifyTarget]? {
    guard let node else { return [] }
    let path = ConfigPath.root.key("notify")
    guard let items = reader.list(node, path) else { return nil }
    var targets: [NotifyTarget] = []
    var ok = true
    for (i, item) in items.enumerated() {
      let itemPath = path.index(i)
      guard let m = reader.mapping(item, itemPath, known: ["slack", "webhook", "pushgateway"]) else {
        if item.isNull {
          reader.error(
            item.location,
            "\(itemPath.quoted) is empty; write `slack: {webhook_secret: NAME}` or `webhook: {url_secret: NAME}`"
          )
        }
        ok = false
        continue
      }
      let kinds = ["slack", "webhook", "pushgateway"].filter { m.node[$0] != nil }
      guard kinds.count == 1, let kind = kinds.first, let value = m.node[kind] else {
        if m.node.mapping?.allSatisfy({
          ["slack", "webhook", "pushgateway"].contains($0.key.scalar?.text ?? "")
        })
          ?? false
        {
          reader.error(
            item.location,
            kinds.isEmpty
              ? "\(itemPath.quoted) names no channel; write `slack: {webhook_secret: NAME}` or `webhook: {url_secret: NAME}`"
              : kinds.count == 2
                ? "\(itemPath.quoted) has both `\(kinds[0])` and `\(kinds[1])`; make them two entries"
                : "\(itemPath.quoted) has `slack`, `webhook` and `pushgateway`; make them separate entries")
        }
        ok = false
        continue
      }
      if kind == "pushgateway" {
        if let target = pushgateway(value, itemPath.key(kind)) { targets.append(target) } else { ok = false }
        continue
      }
      let secretKey = kind == "slack" ? "webhook_secret" : "url_secret"
      guard
        let settings = reader.mapping(value, itemPath.key(kind), known: [secretKey], required: [secretKey]),
        let nameNode = settings[secretKey],
        let name = reader.name(nameNode, itemPath.key(kind).key(secretKey), .variableName)
      else {
        ok = false
        continue
      }
      targets.append(kind == "slack" ? .slack(webhookSecret: name) : .webhook(urlSecret: name))
    }
    return ok ? targets : nil
  }
}
