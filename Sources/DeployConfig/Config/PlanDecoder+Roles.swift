extension PlanDecoder {
  static let roleKeys = ["hosts", "health", "proxy"] + containerKeys

  /// `roles:` for `host`: the roles whose `hosts` include it, each read from the plan's
  /// `container:`, `health:` and `proxy:` with the role's own keys over them. Every role is read
  /// on every host, so a mistake is reported whichever host it is read for. nil with no error:
  /// no `roles:`.
  func roles(_ node: YAMLNode?, top: NodeReader.Mapping, base: ContainerSpec?, host: Host) -> Result<
    [RolePlan]?, Invalid
  > {
    guard let node else { return .success(nil) }
    let path = ConfigPath.root.key("roles")
    guard let pairs = node.mapping, !pairs.isEmpty else {
      reader.error(
        node.location,
        "`roles` must map role names to their settings, e.g. `worker: {command: [\"celery\", \"worker\"]}`")
      return .failure(Invalid())
    }
    var ok = true
    var result: [RolePlan] = []
    var names: [String: SourceLocation] = [:]
    for pair in pairs {
      guard let role = reader.name(pair.key, path, .containerName) else {
        ok = false
        continue
      }
      let rolePath = path.key(role)
      let value = pair.value.isNull ? YAMLNode(.mapping([]), location: pair.value.location) : pair.value
      guard let m = reader.mapping(value, rolePath, known: Self.roleKeys) else {
        ok = false
        continue
      }
      var onHost = true
      if let hostsNode = m["hosts"] {
        if let text = hostsNode.scalar?.text, hostsNode.sequence == nil, text == "all" {
          onHost = true
        } else if let items = reader.list(hostsNode, rolePath.key("hosts")) {
          var listed: [String] = []
          for (i, item) in items.enumerated() {
            if let name = reader.string(item, rolePath.key("hosts").index(i)) {
              listed.append(name)
            } else {
              ok = false
            }
          }
          if items.isEmpty {
            reader.error(
              hostsNode.location, "`\(rolePath.key("hosts"))` is empty; list host names or write `all`")
            ok = false
          }
          onHost = listed.contains(host.name)
        } else {
          ok = false
        }
      }
      // The role's container keys over the plan's `container:`.
      let overlay = (value.mapping ?? []).filter { pair in
        pair.key.scalar.map { Self.containerKeys.contains($0.text) } ?? false
      }
      let baseContainer = top["container"] ?? YAMLNode(.mapping([]), location: value.location)
      let merged = Playbook.merge(
        baseContainer, YAMLNode(.mapping(overlay), location: value.location))
      guard var container = self.container(merged) else {
        ok = false
        continue
      }
      if m["name"] == nil { container.name = (base?.name ?? app) + "-" + role }
      let proxyNode = m["proxy"] ?? top["proxy"]
      let proxy = self.proxy(proxyNode, container: merged)
      guard case .success(let proxySpec) = proxy else {
        ok = false
        continue
      }
      var health: HealthSpec?
      // `health: ~` in a role: no check (running is enough), whatever the plan's is.
      let noHealth = m.node["health"]?.isNull == true
      if !noHealth, let healthNode = m["health"] ?? top["health"] {
        health = self.health(healthNode, container: container, proxy: proxySpec)
        if health == nil { ok = false }
      }
      if let first = names[container.name] {
        reader.error(
          (m.keyNode("name") ?? pair.key).location,
          "role `\(role)` runs a container named `\(container.name)`, like the role at line \(first.line), column \(first.column): give it another `name`"
        )
        ok = false
      }
      names[container.name] = pair.key.location
      if onHost {
        result.append(RolePlan(name: role, container: container, health: health, proxy: proxySpec))
      }
    }
    return ok ? .success(result) : .failure(Invalid())
  }
}
