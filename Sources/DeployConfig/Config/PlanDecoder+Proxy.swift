extension PlanDecoder {
  static let proxyKeys = [
    "app_port", "hosts", "path_prefix", "strip_prefix", "https", "http_port", "https_port", "drain",
    "response_timeout", "image",
  ]

  /// `proxy:` (docs/configuration.md "proxy"). nil with no error: no `proxy:`; `.failure` when
  /// something in it is wrong (reported).
  func proxy(_ node: YAMLNode?, container: YAMLNode?) -> Result<ProxySpec?, Invalid> {
    guard let node else { return .success(nil) }
    let path = ConfigPath.root.key("proxy")
    guard let m = reader.mapping(node, path, known: Self.proxyKeys, required: ["app_port"]),
      let appPortNode = m["app_port"]
    else { return .failure(Invalid()) }
    var ok = true
    let appPort = reader.port(appPortNode, path.key("app_port"))
    if appPort == nil { ok = false }
    var hosts: [String] = []
    if let n = m["hosts"], let items = reader.list(n, path.key("hosts")) {
      for (i, item) in items.enumerated() {
        guard let name = reader.string(item, path.key("hosts").index(i)) else {
          ok = false
          continue
        }
        if let problem = ProxySpec.hostNameProblem(name) {
          reader.error(item.location, "\(path.key("hosts").index(i).quoted): \(problem)")
          ok = false
        } else if hosts.contains(where: { $0.lowercased() == name.lowercased() }) {
          reader.error(item.location, "\(path.key("hosts").index(i).quoted): `\(name)` is listed twice")
          ok = false
        } else {
          hosts.append(name)
        }
      }
    } else if m["hosts"] != nil {
      ok = false
    }
    var pathPrefix: String?
    if let n = m["path_prefix"], let text = reader.string(n, path.key("path_prefix")) {
      let trimmed = text.count > 1 && text.hasSuffix("/") ? String(text.dropLast()) : text
      if !trimmed.hasPrefix("/") {
        reader.error(n.location, "`\(path.key("path_prefix"))` must start with `/`, e.g. `/api`")
        ok = false
      } else if let bad = Names.firstOffending(
        trimmed, allowed: { $0 > 0x20 && $0 < 0x7F && $0 != 0x2A && $0 != 0x3F && $0 != 0x23 })
      {
        reader.error(
          n.location, "`\(path.key("path_prefix"))` contains \(bad); give a plain path like `/api`")
        ok = false
      } else {
        pathPrefix = trimmed == "/" ? nil : trimmed
      }
    } else if m["path_prefix"] != nil {
      ok = false
    }
    var spec = ProxySpec(appPort: appPort ?? 0, hosts: hosts, pathPrefix: pathPrefix, image: .caddy)
    read(m["strip_prefix"], &ok, { reader.bool($0, path.key("strip_prefix")) }) { spec.stripPrefix = $0 }
    read(
      m["https"], &ok,
      {
        reader.parse($0, path.key("https"), "`off`, `auto` or `internal`") { (t: String) throws(ValueError) in
          guard let value = ProxySpec.HTTPS(rawValue: t) else {
            throw ValueError(
              "`\(t)` is not an HTTPS mode: use `off` (plain HTTP), `auto` (ACME certificates for `hosts`) or `internal` (Caddy's local CA)"
            )
          }
          return value
        }
      }
    ) { spec.https = $0 }
    // YAML reads a bare `off` as a string here (the node is plain), which is what we want.
    read(m["http_port"], &ok, { reader.port($0, path.key("http_port")) }) { spec.httpPort = $0 }
    read(m["https_port"], &ok, { reader.port($0, path.key("https_port")) }) { spec.httpsPort = $0 }
    read(m["drain"], &ok, { reader.duration($0, path.key("drain")) }) { spec.drain = $0 }
    read(
      m["response_timeout"], &ok, { reader.duration($0, path.key("response_timeout"), minimum: .seconds(1)) }
    ) {
      spec.responseTimeout = $0
    }
    read(
      m["image"], &ok,
      {
        reader.parse($0, path.key("image"), "an image like `caddy:2`") { (t: String) throws(ValueError) in
          do {
            return try ImageReference.parse(t)
          } catch {
            throw ValueError("\(error)")
          }
        }
      }
    ) { spec.image = $0 }
    if ok, spec.https != .off {
      if spec.hosts.isEmpty {
        reader.error(
          (m.keyNode("https") ?? node).location,
          "`\(path.key("https")): \(spec.https.rawValue)` needs `\(path.key("hosts"))`: certificates are issued for named hosts"
        )
        ok = false
      }
      if spec.httpPort == spec.httpsPort {
        reader.error(
          (m.keyNode("https_port") ?? m.keyNode("http_port") ?? node).location,
          "`\(path.key("http_port"))` and `\(path.key("https_port"))` are both \(spec.httpPort); give them different ports"
        )
        ok = false
      }
    }
    if ok, let ports = container?.mapping?.first(where: { $0.key.scalar?.text == "ports" }),
      !(ports.value.sequence?.isEmpty ?? false)
    {
      reader.error(
        ports.key.location,
        "`container.ports` and `proxy` do not go together: with `proxy:` the app publishes no host port and the host's proxy publishes \(spec.httpPort)\(spec.https == .off ? "" : " and \(spec.httpsPort)"); remove `container.ports`"
      )
      ok = false
    }
    return ok ? .success(spec) : .failure(Invalid())
  }
}
