/// `container:`'s Docker options (docs/configuration.md "Container options"): network, limits, user,
/// capabilities, labels, ulimits and any other `docker run` flag.
extension PlanDecoder {
  static let optionKeys = [
    "network", "network_aliases", "memory", "cpus", "user", "gpus", "hostname", "entrypoint", "workdir",
    "add_hosts", "cap_add", "cap_drop", "read_only", "tmpfs", "labels", "ulimits", "docker_args",
  ]

  /// Reads every option present in `m` into `spec`; false if any was wrong (each reported).
  func options(_ m: NodeReader.Mapping, _ path: ConfigPath, into spec: inout ContainerSpec) -> Bool {
    var r = OptionsReading(reader: reader, m: m, path: path)
    var o = ContainerOptions()
    network(&r, into: &o)
    o.memory = r.scalar("memory", "a size like `512m`", ContainerOptionValue.memory)
    cpus(&r, into: &o)
    o.user = r.scalar("user", "a user like `\"1000:1000\"`", ContainerOptionValue.user)
    gpus(&r, into: &o)
    o.hostname = r.scalar("hostname", "a host name", ContainerOptionValue.hostname)
    if let n = m["entrypoint"] {
      if let words = command(n, path.key("entrypoint")) {
        o.entrypoint = words.isEmpty ? nil : words
      } else {
        r.ok = false
      }
    }
    o.workdir = r.scalar("workdir", "an absolute path", ContainerOptionValue.containerPath)
    o.addHosts = r.list("add_hosts", "`name:address`", ContainerOptionValue.addHost)
    capabilities(&r, into: &o)
    read(m["read_only"], &r.ok, { reader.bool($0, path.key("read_only")) }) { o.readOnly = $0 }
    o.tmpfs = r.list("tmpfs", "a path like `/tmp`", ContainerOptionValue.tmpfs)
    o.dockerArgs = r.list("docker_args", "a `docker run` flag", ContainerOptionValue.dockerArgument)
    read(m["labels"], &r.ok, { labels($0, path.key("labels")) }) { spec.labels = $0 }
    read(m["ulimits"], &r.ok, { ulimits($0, path.key("ulimits")) }) { o.ulimits = $0 }
    spec.options = o
    return r.ok
  }

  /// `network` and `network_aliases`, which need a network of their own.
  private func network(_ r: inout OptionsReading, into o: inout ContainerOptions) {
    o.network = r.scalar("network", "a Docker network name") { (t: String) throws(ValueError) in
      try ContainerOptionValue.networkName(t, what: "network name")
    }
    o.networkAliases = r.list("network_aliases", "a network alias") { (t: String) throws(ValueError) in
      try ContainerOptionValue.networkName(t, what: "network alias")
    }
    if !o.networkAliases.isEmpty, o.network == nil, let key = r.m.keyNode("network_aliases") {
      reader.error(
        key.location,
        "`\(r.path.key("network_aliases"))` needs `\(r.path.key("network"))`: Docker's default bridge has no aliases"
      )
      r.ok = false
    }
  }

  private func cpus(_ r: inout OptionsReading, into o: inout ContainerOptions) {
    guard let n = r.m["cpus"] else { return }
    let cpus = reader.parse(n, r.path.key("cpus"), "a number of CPUs like `1.5`") {
      (t: String) throws(ValueError) -> Double in
      guard n.isPlainScalar, let value = Double(t), value.isFinite, t.first != "." else {
        throw ValueError("`\(t)` is not a number of CPUs; write a plain number like `1.5` or `2`")
      }
      guard value > 0 else { throw ValueError("must be more than 0, got \(t)") }
      return value
    }
    if let cpus { o.cpus = cpus } else { r.ok = false }
  }

  private func gpus(_ r: inout OptionsReading, into o: inout ContainerOptions) {
    guard let n = r.m["gpus"] else { return }
    let gpus = reader.parse(n, r.path.key("gpus"), "`all`, a count or `\"device=0,1\"`") {
      (t: String) throws(ValueError) in try ContainerOptionValue.gpus(t, plain: n.isPlainScalar)
    }
    if let gpus { o.gpus = gpus } else { r.ok = false }
  }

  /// `cap_add` and `cap_drop`, which may not both name one capability (except `ALL`).
  private func capabilities(_ r: inout OptionsReading, into o: inout ContainerOptions) {
    o.capAdd = r.list("cap_add", "a capability name", ContainerOptionValue.capability)
    o.capDrop = r.list("cap_drop", "a capability name", ContainerOptionValue.capability)
    for (i, capability) in o.capAdd.enumerated() where o.capDrop.contains(capability) && capability != "ALL" {
      if let item = r.m["cap_add"]?.sequence?[i] {
        reader.error(
          item.location, "\(r.path.key("cap_add").index(i).quoted): `\(capability)` is also in `cap_drop`")
      }
      r.ok = false
    }
  }

  private func labels(_ node: YAMLNode, _ path: ConfigPath) -> [String: String]? {
    guard let m = reader.mapping(node, path, known: nil) else { return nil }
    var result: [String: String] = [:]
    var ok = true
    for pair in m.node.mapping ?? [] {
      guard
        let key = reader.parse(
          pair.key, path, "a label key",
          { (t: String) throws(ValueError) in try ContainerOptionValue.labelKey(t) })
      else {
        ok = false
        continue
      }
      guard !pair.value.isNull, let value = reader.string(pair.value, path.key(key)) else {
        if pair.value.isNull {
          reader.error(
            pair.value.location, "\(path.key(key).quoted) has no value; write `\"\"` for an empty one")
        }
        ok = false
        continue
      }
      if value.contains("\0") || value.contains("\n") {
        reader.error(pair.value.location, "\(path.key(key).quoted) contains a line break or NUL")
        ok = false
      }
      result[key] = value
    }
    return ok ? result : nil
  }

  /// `{nofile: 4096}` (soft = hard) or `{nofile: {soft: 1024, hard: 4096}}`, in file order.
  private func ulimits(_ node: YAMLNode, _ path: ConfigPath) -> [ContainerOptions.Ulimit]? {
    guard let m = reader.mapping(node, path, known: ContainerOptionValue.ulimitNames) else { return nil }
    var result: [ContainerOptions.Ulimit] = []
    var ok = true
    for pair in m.node.mapping ?? [] {
      guard let name = pair.key.scalar?.text, ContainerOptionValue.ulimitNames.contains(name) else {
        ok = false  // reported by `mapping`
        continue
      }
      let limitPath = path.key(name)
      if pair.value.mapping != nil {
        guard
          let limit = reader.mapping(
            pair.value, limitPath, known: ["soft", "hard"], required: ["soft", "hard"]),
          let softNode = limit["soft"], let hardNode = limit["hard"]
        else {
          ok = false
          continue
        }
        let soft = reader.integer(softNode, limitPath.key("soft"), 0...Int.max, "a limit")
        let hard = reader.integer(hardNode, limitPath.key("hard"), 0...Int.max, "a limit")
        guard let soft, let hard else {
          ok = false
          continue
        }
        if soft > hard {
          reader.error(
            softNode.location,
            "\(limitPath.key("soft").quoted) is \(soft), above `hard` (\(hard)); soft must be <= hard")
          ok = false
          continue
        }
        result.append(.init(name: name, soft: soft, hard: hard))
      } else if let value = reader.integer(
        pair.value, limitPath, 0...Int.max, "a limit, or `{soft: N, hard: M}`")
      {
        result.append(.init(name: name, soft: value, hard: value))
      } else {
        ok = false
      }
    }
    return ok ? result : nil
  }
}

/// One `container:` mapping being read for options; `ok` turns false at the first wrong one.
private struct OptionsReading {
  let reader: NodeReader
  let m: NodeReader.Mapping
  let path: ConfigPath
  var ok = true

  mutating func scalar(_ key: String, _ what: String, _ parser: (String) throws(ValueError) -> String)
    -> String?
  {
    guard let n = m[key] else { return nil }
    let value = reader.parse(n, path.key(key), what, parser)
    if value == nil { ok = false }
    return value
  }

  /// A list of distinct values.
  mutating func list(_ key: String, _ what: String, _ parser: (String) throws(ValueError) -> String)
    -> [String]
  {
    guard let n = m[key] else { return [] }
    guard let items = reader.list(n, path.key(key)) else {
      ok = false
      return []
    }
    var result: [String] = []
    for (i, item) in items.enumerated() {
      if let value = reader.parse(item, path.key(key).index(i), what, parser) {
        if result.contains(value) {
          reader.error(item.location, "\(path.key(key).index(i).quoted): `\(value)` is listed twice")
          ok = false
        }
        result.append(value)
      } else {
        ok = false
      }
    }
    return result
  }
}
