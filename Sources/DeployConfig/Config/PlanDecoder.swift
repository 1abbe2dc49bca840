/// Reads a merged and substituted plan tree into a `ResolvedPlan`, checking every value.
struct PlanDecoder {
  let reader: NodeReader
  let app: String
  let file: String

  static let containerKeys =
    [
      "name", "ports", "volumes", "env", "secrets", "command", "restart", "stop_timeout", "log",
    ] + optionKeys
  static let healthKeys = [
    "http", "docker", "cmd", "running", "via", "interval", "timeout", "retries", "start_period",
  ]

  func decode(_ root: YAMLNode, environment: String, host: Host) -> ResolvedPlan? {
    reader.sourceMap = SourceMap(root: root.location)
    guard let top = reader.mapping(root, .root, known: Playbook.topKeys, required: ["app", "image"]) else {
      return nil
    }
    let image = top["image"].flatMap {
      reader.parse($0, ConfigPath.root.key("image"), "an image repository") {
        (t: String) throws(ValueError) in
        try ImageRepository(parsing: t)
      }
    }
    let container = self.container(top["container"])
    let proxy = self.proxy(top["proxy"], container: top["container"])
    let health = top["health"].flatMap {
      // A bad `proxy:` is reported already; the check is then read as without one.
      // With `roles:`, each role's reading of it warns for its own container.
      self.health($0, container: top["roles"] == nil ? container : nil, proxy: (try? proxy.get()) ?? nil)
    }
    let rollout = self.rollout(top["rollout"])
    let rollback = self.rollback(top["rollback"])
    let verify = self.verify(top["verify"])
    let hooks = self.hooks(top["hooks"])
    let notify = self.notify(top["notify"])
    let registry = self.registry(top["registry"])
    let releaseCommand = self.releaseCommand(top)
    let roles = self.roles(top["roles"], top: top, base: container, host: host)
    guard let image, let container, let rollout, let rollback, !reader.hasErrors else { return nil }
    guard case .success(let verify) = verify, let hooks, let notify, case .success(let registry) = registry,
      case .success(let proxy) = proxy, case .success(let roles) = roles,
      case .success(let releaseCommand) = releaseCommand
    else {
      return nil
    }
    var plan = ResolvedPlan(
      app: app, environment: environment, host: host, image: image, container: container, health: health,
      rollout: rollout, rollback: rollback, file: file, sourceMap: reader.sourceMap)
    plan.verify = verify
    plan.hooks = hooks
    plan.notify = notify
    plan.registry = registry
    plan.proxy = proxy
    plan.roles = roles ?? []
    plan.releaseCommand = releaseCommand
    return plan
  }

  // MARK: registry

  /// nil with no error: no `registry:`.
  func registry(_ node: YAMLNode?) -> Result<RegistrySpec?, Invalid> {
    guard let node else { return .success(nil) }
    let path = ConfigPath.root.key("registry")
    guard
      let m = reader.mapping(
        node, path, known: ["server", "username", "username_secret", "password_secret"],
        required: ["password_secret"])
    else { return .failure(Invalid()) }
    var ok = true
    var server: String?
    if let n = m["server"], let text = reader.string(n, path.key("server")) {
      let valid =
        !text.isEmpty && !text.contains("/") && !text.hasPrefix("-")
        && text.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value < 0x7F && $0 != "@" }
      if !valid {
        ok = false
        reader.error(
          n.location,
          "`\(path.key("server"))` must be a registry host like `ghcr.io` or `registry.example.com:5000`")
      } else {
        server = text
      }
    } else if m["server"] != nil {
      ok = false
    }
    let username: RegistrySpec.Username
    switch (m["username"], m["username_secret"]) {
    case (let n?, nil):
      guard let text = reader.string(n, path.key("username")), !text.isEmpty,
        !text.unicodeScalars.contains(where: { $0.value < 0x20 })
      else {
        reader.error(n.location, "`\(path.key("username"))` must be a non-empty user name")
        return .failure(Invalid())
      }
      username = .literal(text)
    case (nil, let n?):
      guard let name = reader.name(n, path.key("username_secret"), .variableName) else {
        return .failure(Invalid())
      }
      username = .secret(name)
    case (let a?, _?):
      reader.error(a.location, "`registry` has both `username` and `username_secret`; keep one")
      return .failure(Invalid())
    case (nil, nil):
      reader.error(node.location, "`registry` needs `username: NAME` or `username_secret: VARIABLE`")
      return .failure(Invalid())
    }
    guard let n = m["password_secret"],
      let password = reader.name(n, path.key("password_secret"), .variableName)
    else { return .failure(Invalid()) }
    guard ok else { return .failure(Invalid()) }
    return .success(RegistrySpec(server: server, username: username, passwordSecret: password))
  }

  // MARK: container

  func container(_ node: YAMLNode?) -> ContainerSpec? {
    var spec = ContainerSpec(name: app)
    guard let node else { return spec }
    let path = ConfigPath.root.key("container")
    guard let m = reader.mapping(node, path, known: Self.containerKeys) else { return nil }
    var ok = true
    func keep<T>(_ value: T?, _ assign: (T) -> Void) {
      if let value { assign(value) } else { ok = false }
    }
    if let n = m["name"] { keep(reader.name(n, path.key("name"), .containerName)) { spec.name = $0 } }
    if let n = m["ports"] { keep(ports(n, path.key("ports"))) { spec.ports = $0 } }
    if let n = m["volumes"] { keep(volumes(n, path.key("volumes"))) { spec.volumes = $0 } }
    if let n = m["env"] { keep(env(n, path.key("env"))) { spec.env = $0 } }
    if let n = m["secrets"] {
      let envNames = m["env"]?.mapping?.compactMap { $0.key.scalar?.text } ?? []
      keep(secrets(n, path.key("secrets"), envNames: envNames)) { spec.secrets = $0 }
    }
    if let n = m["command"] { keep(command(n, path.key("command"))) { spec.command = $0.isEmpty ? nil : $0 } }
    if let n = m["restart"] {
      keep(
        reader.parse(n, path.key("restart"), "a restart policy") { (t: String) throws(ValueError) in
          try RestartPolicy(parsing: t)
        }
      ) { spec.restart = $0 }
    }
    if let n = m["stop_timeout"] {
      keep(reader.duration(n, path.key("stop_timeout"))) { spec.stopTimeout = $0 }
    }
    if let n = m["log"] { keep(log(n, path.key("log"))) { spec.log = $0 } }
    if !options(m, path, into: &spec) { ok = false }
    return ok ? spec : nil
  }

  private func ports(_ node: YAMLNode, _ path: ConfigPath) -> [PortMapping]? {
    distinctList(
      node, path, "a port mapping like `\"8080:80\"`",
      { (t: String) throws(ValueError) in try PortMapping(parsing: t) },
      claim: { "\($0.hostIP ?? "*"):\($0.hostPort)/\($0.proto.rawValue)" },
      clash: { "host port \($0.hostPort)/\($0.proto.rawValue) is already published" })
  }

  private func volumes(_ node: YAMLNode, _ path: ConfigPath) -> [VolumeMount]? {
    distinctList(
      node, path, "a volume like `\"/srv/app/data:/app/data\"`",
      { (t: String) throws(ValueError) in try VolumeMount(parsing: t) },
      claim: { $0.target },
      clash: { "`\($0.target)` is already mounted" })
  }

  /// A list of values of which no two may claim the same thing (a host port, a mount target):
  /// `claim` names what a value takes, `clash` says why a later one is refused. Every item is
  /// read, so that all problems are reported at once.
  private func distinctList<T>(
    _ node: YAMLNode, _ path: ConfigPath, _ what: String, _ parser: (String) throws(ValueError) -> T,
    claim: (T) -> String, clash: (T) -> String
  ) -> [T]? {
    guard let items = reader.list(node, path) else { return nil }
    var result: [T] = []
    var seen: [String: SourceLocation] = [:]
    var ok = true
    for (i, item) in items.enumerated() {
      guard let value = reader.parse(item, path.index(i), what, parser) else {
        ok = false
        continue
      }
      let key = claim(value)
      if let first = seen[key] {
        reader.error(
          item.location,
          "\(path.index(i).quoted): \(clash(value)) at line \(first.line), column \(first.column)")
        ok = false
      }
      seen[key] = item.location
      result.append(value)
    }
    return ok ? result : nil
  }

  private func env(_ node: YAMLNode, _ path: ConfigPath) -> [EnvVar]? {
    guard let m = reader.mapping(node, path, known: nil)
    else {
      return nil
    }
    var result: [EnvVar] = []
    var ok = true
    for pair in m.node.mapping ?? [] {
      guard let name = reader.name(pair.key, path, .variableName) else {
        ok = false
        continue
      }
      let valuePath = path.key(name)
      guard !pair.value.isNull else {
        reader.error(pair.value.location, "\(valuePath.quoted) has no value; write `\"\"` for an empty one")
        ok = false
        continue
      }
      guard let value = reader.string(pair.value, valuePath) else {
        ok = false
        continue
      }
      if value.contains("\n") || value.contains("\0") {
        reader.error(
          pair.value.location,
          "\(valuePath.quoted) contains a line break or NUL, which an environment variable for Docker cannot carry"
        )
        ok = false
        continue
      }
      result.append(EnvVar(name, value))
    }
    return ok ? result : nil
  }

  private func secrets(_ node: YAMLNode, _ path: ConfigPath, envNames: [String]) -> [String]? {
    guard let items = reader.list(node, path) else { return nil }
    var result: [String] = []
    var ok = true
    for (i, item) in items.enumerated() {
      guard let name = reader.name(item, path.index(i), .variableName) else {
        ok = false
        continue
      }
      if result.contains(name) {
        reader.error(item.location, "\(path.index(i).quoted): secret `\(name)` is listed twice")
        ok = false
      } else if envNames.contains(name) {
        reader.error(
          item.location,
          "\(path.index(i).quoted): `\(name)` is also set in `container.env`; a variable is either a secret or a plain value"
        )
        ok = false
      }
      result.append(name)
    }
    return ok ? result : nil
  }

  func command(_ node: YAMLNode, _ path: ConfigPath) -> [String]? {
    arguments(node, path, "a list of arguments, e.g. `[\"httpd\", \"-f\", \"-p\", \"8080\"]`")
  }

  /// A command as a list of arguments, each a string without NUL; with `namingProgram`, there is
  /// at least one and the first is not empty. A single string is refused with `what`, the list
  /// expected, rather than split: no shell runs it. Every item is read, so that all problems are
  /// reported at once.
  func arguments(_ node: YAMLNode, _ path: ConfigPath, _ what: String, namingProgram: Bool = false)
    -> [String]?
  {
    guard node.sequence != nil else {
      reader.error(node.location, "\(path.quoted) must be \(what), found \(node.kindDescription)")
      return nil
    }
    guard let items = reader.list(node, path) else { return nil }
    if namingProgram && items.isEmpty {
      reader.error(node.location, "\(path.quoted) is an empty command; remove the key or name a program")
      return nil
    }
    var argv: [String] = []
    var ok = true
    for (i, item) in items.enumerated() {
      guard let arg = reader.string(item, path.index(i)) else {
        ok = false
        continue
      }
      if arg.contains("\0") {
        reader.error(item.location, "\(path.index(i).quoted) contains a NUL character")
        ok = false
      } else if namingProgram && i == 0 && arg.isEmpty {
        reader.error(item.location, "\(path.index(i).quoted) is empty; name the program to run")
        ok = false
      }
      argv.append(arg)
    }
    return ok ? argv : nil
  }

  private func log(_ node: YAMLNode, _ path: ConfigPath) -> LogOptions? {
    guard let m = reader.mapping(node, path, known: ["max_size", "max_files"]) else { return nil }
    var options = LogOptions(maxSize: "10m", maxFiles: 3)
    var ok = true
    if let n = m["max_size"] {
      if let size = reader.parse(
        n, path.key("max_size"), "a size like `10m`",
        { (t: String) throws(ValueError) in try ByteSize(parsing: t) })
      {
        options.maxSize = size.dockerValue
      } else {
        ok = false
      }
    }
    read(m["max_files"], &ok, { reader.integer($0, path.key("max_files"), 1...1000, "a number of files") }) {
      options.maxFiles = $0
    }
    return ok ? options : nil
  }

  // MARK: health

  func health(_ node: YAMLNode, container: ContainerSpec?, proxy: ProxySpec?) -> HealthSpec? {
    let path = ConfigPath.root.key("health")
    guard let m = reader.mapping(node, path, known: Self.healthKeys) else { return nil }
    var ok = true
    var probe: HealthSpec.Probe?
    let docker = m["docker"].flatMap { reader.bool($0, path.key("docker")) }
    if m["docker"] != nil && docker == nil { ok = false }
    if let other = containerProbe(m, path, docker: docker, ok: &ok) {
      probe = other
    } else if let httpNode = m["http"] {
      if docker == true {
        reader.error(
          (m.keyNode("docker") ?? httpNode).location, "`health` has both `http` and `docker: true`; keep one")
        ok = false
      }
      if let http = self.http(httpNode, path.key("http"), container: proxy == nil ? container : nil) {
        probe = .http(http)
      } else {
        ok = false
      }
    } else if docker == true {
      probe = .docker
    } else if ok && m["cmd"] == nil && m["running"] == nil {
      reader.error(
        node.location,
        "`health` needs a check: `http: {port: 8080, path: /healthz}`, `cmd: [...]` (run in the container), `running: 20s` (up that long) or `docker: true` (the image's HEALTHCHECK)"
      )
      ok = false
    }
    var check = HealthSpec(probe: probe ?? .docker)
    read(m["via"], &ok, { reader.parse($0, path.key("via"), "`ssh` or `direct`", Self.parseVia) }) {
      check.via = $0
    }
    read(m["interval"], &ok, { reader.duration($0, path.key("interval"), minimum: .milliseconds(1)) }) {
      check.interval = $0
    }
    read(m["timeout"], &ok, { reader.duration($0, path.key("timeout"), minimum: .milliseconds(1)) }) {
      check.timeout = $0
    }
    read(m["retries"], &ok, { reader.integer($0, path.key("retries"), 1...10_000, "a number of checks") }) {
      check.retries = $0
    }
    read(m["start_period"], &ok, { reader.duration($0, path.key("start_period")) }) { check.startPeriod = $0 }
    if case .running(let up) = check.probe, up < check.interval, let n = m["running"] {
      reader.error(
        n.location,
        "`\(path.key("running"))` (\(up.configText)) is shorter than `\(path.key("interval"))` (\(check.interval.configText)): the container would count as up before the first check looks; make it at least the interval"
      )
      ok = false
    }
    return ok ? check : nil
  }

  private func http(_ node: YAMLNode, _ path: ConfigPath, container: ContainerSpec?) -> HTTPHealthSpec? {
    guard
      let m = reader.mapping(node, path, known: ["port", "path", "expect", "contains"], required: ["port"])
    else {
      return nil
    }
    var ok = true
    guard let portNode = m["port"] else { return nil }
    let port = reader.port(portNode, path.key("port"))
    var probe = HTTPHealthSpec(port: port ?? 0)
    if port == nil { ok = false }
    if let n = m["path"], let text = reader.string(n, path.key("path")) {
      if !text.hasPrefix("/") {
        reader.error(n.location, "`\(path.key("path"))` must start with `/`, e.g. `/healthz`")
        ok = false
      } else if let bad = Names.firstOffending(text, allowed: { $0 > 0x20 && $0 < 0x7F }) {
        reader.error(n.location, "`\(path.key("path"))` contains \(bad); percent-encode it")
        ok = false
      } else {
        probe.path = text
      }
    } else if m["path"] != nil {
      ok = false
    }
    read(m["expect"], &ok, { reader.integer($0, path.key("expect"), 100...599, "an HTTP status") }) {
      probe.expectStatus = $0
    }
    read(
      m["contains"], &ok,
      { node in reader.string(node, path.key("contains")).flatMap { $0.isEmpty ? nil : $0 } }
    ) {
      probe.bodyContains = $0
    }
    if let port, let container,
      !container.ports.contains(where: { $0.hostPort == port && $0.proto == .tcp })
    {
      let published =
        container.ports.isEmpty ? "no ports" : container.ports.map(\.argument).joined(separator: ", ")
      reader.warning(
        portNode.location,
        "`\(path.key("port"))` is \(port), but `container.ports` publishes \(published); the check reaches the host's port \(port)"
      )
    }
    return ok ? probe : nil
  }

  // MARK: rollout, rollback

  private func rollout(_ node: YAMLNode?) -> RolloutPolicy? {
    var policy = RolloutPolicy()
    guard let node else { return policy }
    let path = ConfigPath.root.key("rollout")
    guard let m = reader.mapping(node, path, known: ["batch", "max_failures", "order"]) else { return nil }
    var ok = true
    if let n = m["batch"] {
      let items = n.sequence ?? [n]
      var sizes: [BatchPolicy.Size] = []
      if items.isEmpty {
        reader.error(n.location, "`\(path.key("batch"))` is an empty list; give at least one size")
        ok = false
      }
      for (i, item) in items.enumerated() {
        let itemPath = n.sequence == nil ? path.key("batch") : path.key("batch").index(i)
        if let size = reader.parse(
          item, itemPath, "a number of hosts or a percentage like `\"25%\"`",
          { (t: String) throws(ValueError) in
            try BatchPolicy.Size(parsing: t)
          })
        {
          sizes.append(size)
        } else {
          ok = false
        }
      }
      policy.batch = BatchPolicy(sizes)
    }
    read(
      m["max_failures"], &ok,
      { reader.integer($0, path.key("max_failures"), 0...Int.max, "a number of hosts") }
    ) { policy.maxFailures = $0 }
    read(
      m["order"], &ok,
      {
        reader.parse($0, path.key("order"), "`stop-first` or `start-first`") {
          (t: String) throws(ValueError) in
          guard let order = RolloutPolicy.Order(rawValue: t) else {
            throw ValueError(
              "`\(t)` is not an update order: use `stop-first` (the old container stops, then the new one starts) or `start-first` (the new one starts before the old one stops)"
            )
          }
          return order
        }
      }
    ) { policy.order = $0 }
    return ok ? policy : nil
  }

  private func rollback(_ node: YAMLNode?) -> RollbackPolicy? {
    var policy = RollbackPolicy()
    guard let node else { return policy }
    let path = ConfigPath.root.key("rollback")
    guard let m = reader.mapping(node, path, known: ["auto", "keep"]) else { return nil }
    var ok = true
    read(m["auto"], &ok, { reader.bool($0, path.key("auto")) }) { policy.auto = $0 }
    read(m["keep"], &ok, { reader.integer($0, path.key("keep"), 1...1000, "a number of releases") }) {
      policy.keep = $0
    }
    return ok ? policy : nil
  }
}

extension PlanDecoder {
  /// When `node` is there: `read` it and `assign` what it gave; a value `read` could not take
  /// (it reported why, at its place) clears `ok`.
  func read<T>(_ node: YAMLNode?, _ ok: inout Bool, _ read: (YAMLNode) -> T?, _ assign: (T) -> Void) {
    guard let node else { return }
    if let value = read(node) { assign(value) } else { ok = false }
  }
}
