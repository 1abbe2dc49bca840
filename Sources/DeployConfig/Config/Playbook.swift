/// One app's deploy plan as written (`playbooks/<app>.yml`): the base plan and its
/// per-environment overrides. `resolved(for:host:)` gives the concrete plan for one host.
public struct Playbook: Sendable {
  public var app: String
  /// The file as messages show it (`playbooks/web.yml`).
  public var file: String
  /// Environments that have an entry under `environments:`.
  public var overriddenEnvironments: [String] { overrides.map(\.environment) }

  /// The plan without its `environments:` key.
  let base: YAMLNode
  let overrides: [Override]

  struct Override: Sendable {
    var environment: String
    var key: YAMLNode
    var plan: YAMLNode
  }

  static let topKeys =
    ["app", "image", "container", "health", "rollout", "rollback", "environments"]
    + ["verify", "hooks", "notify", "registry", "proxy", "roles"] + ["release_command", "release_timeout"]

  /// The plan for `host` of `inventory`: the environment's override merged in, `${environment}`
  /// and the host's `vars` substituted, every value checked.
  public func resolved(for inventory: Inventory, host: Host) throws(ConfigErrors) -> ResolvedPlan {
    let reader = NodeReader(root: base.location)
    var unknown: [UnknownVariable] = []
    let plan = resolve(for: inventory, host: host, reader: reader, unknown: &unknown)
    let diagnostics = reader.diagnostics + UnknownVariable.diagnostics(unknown, inventories: [inventory])
    guard let plan, !diagnostics.contains(where: { $0.severity == .error }) else {
      throw ConfigErrors(diagnostics)
    }
    return plan
  }

  /// The plan for every host of `inventory`.
  public func resolved(for inventory: Inventory) throws(ConfigErrors) -> EnvironmentPlan {
    var hosts: [ResolvedPlan] = []
    var diagnostics: [Diagnostic] = []
    // A swarm environment is its manager: every command runs there.
    let members = inventory.hosts.filter {
      inventory.engine.swarm == nil || $0.name == inventory.engine.swarm?.manager
    }
    for host in members {
      do {
        hosts.append(try resolved(for: inventory, host: host))
      } catch {
        diagnostics += error.diagnostics
      }
    }
    // With `roles:`, a host no role names runs nothing of the app; a role with no host here
    // cannot move with the others, so this environment refuses the plan.
    if !roleHosts.isEmpty {
      for (role, location, _) in roleHosts
      where !hosts.contains(where: { $0.roles.contains { $0.name == role } }) {
        diagnostics.append(
          .error(
            at: location,
            "role `\(role)` has no host in environment `\(inventory.environment)` (\(inventory.file)); list one of its hosts: \(inventory.hosts.map(\.name).joined(separator: ", "))"
          ))
      }
      hosts = hosts.filter { !$0.roles.isEmpty }
    }
    guard diagnostics.isEmpty, let first = hosts.first else {
      throw ConfigErrors(
        diagnostics.isEmpty
          ? [
            .error(
              at: SourceLocation(file: inventory.file), "no hosts in environment `\(inventory.environment)`")
          ]
          : diagnostics)
    }
    var plan = EnvironmentPlan(
      app: app, environment: inventory.environment, image: first.image, rollout: first.rollout,
      rollback: first.rollback, hosts: hosts, lockTTL: inventory.lockTTL)
    plan.engine = inventory.engine
    plan.hooks = first.hooks
    plan.notify = first.notify
    plan.registry = first.registry
    plan.releaseCommand = first.releaseCommand
    return plan
  }

  /// `roles:` as written: each role's name, where it is, and the host names it lists (nil:
  /// `all`, or none given).
  var roleHosts: [(role: String, location: SourceLocation, hosts: [(String, SourceLocation)]?)] {
    guard let pairs = base["roles"]?.mapping else { return [] }
    return pairs.compactMap { pair in
      guard let role = pair.key.scalar?.text else { return nil }
      let listed = pair.value["hosts"]?.sequence.map { items in
        items.compactMap { item in item.scalar.map { ($0.text, item.location) } }
      }
      return (role, pair.key.location, listed)
    }
  }

  /// Reads a playbook file's tree; `expectedApp` is the file's name without `.yml`.
  static func decode(_ root: YAMLNode, file: String, expectedApp: String, reader: NodeReader) -> Playbook? {
    guard let top = reader.mapping(root, .root, known: topKeys, required: ["app", "image"]) else {
      if root.isNull { reader.error(root.location, "empty deploy plan; it needs at least `app` and `image`") }
      return nil
    }
    var app: String?
    if let node = top["app"] {
      app = reader.name(node, ConfigPath.root.key("app"), .appName)
      if let name = app, name != expectedApp {
        reader.error(
          node.location,
          "`app: \(name)` does not match the file name `\(expectedApp).yml`; rename one so they agree")
      }
    }
    var overrides: [Override] = []
    if let node = top["environments"],
      let environments = reader.mapping(
        node, ConfigPath.root.key("environments"),
        known: nil)
    {
      for pair in environments.node.mapping ?? [] {
        guard let name = reader.name(pair.key, ConfigPath.root.key("environments"), .environmentName) else {
          continue
        }
        let path = ConfigPath.root.key("environments").key(name)
        if pair.value.isNull { continue }
        guard let overlay = pair.value.mapping else {
          reader.error(
            pair.value.location,
            "\(path.quoted) must be a mapping of plan keys to change in `\(name)`, found \(pair.value.kindDescription)"
          )
          continue
        }
        for entry in overlay {
          guard let key = entry.key.scalar?.text else { continue }
          if key == "app" || key == "environments" {
            reader.error(entry.key.location, "`\(key)` cannot be changed per environment")
          }
        }
        overrides.append(Override(environment: name, key: pair.key, plan: pair.value))
      }
    }
    guard let app, case .mapping(let pairs) = root.value else { return nil }
    let base = YAMLNode(
      .mapping(pairs.filter { $0.key.scalar?.text != "environments" }), location: root.location)
    return Playbook(app: app, file: file, base: base, overrides: overrides)
  }

  func resolve(for inventory: Inventory, host: Host, reader: NodeReader, unknown: inout [UnknownVariable])
    -> ResolvedPlan?
  {
    var merged = base
    if let override = overrides.first(where: { $0.environment == inventory.environment }) {
      merged = Self.merge(base, override.plan)
    }
    var substitution = Substitution(
      environment: inventory.environment, host: host, reader: reader)
    let node = substitution.apply(to: merged)
    unknown += substitution.unknown
    reader.substitutionContext = "for host `\(host.name)` of `\(inventory.environment)`"
    return PlanDecoder(reader: reader, app: app, file: file).decode(
      node, environment: inventory.environment, host: host)
  }

  /// Deep merge of an override onto the plan: mappings merge key by key, anything else
  /// (scalars, lists) is replaced, and a null value removes the key (back to its default).
  static func merge(_ base: YAMLNode, _ overlay: YAMLNode) -> YAMLNode {
    guard var pairs = base.mapping, let overlayPairs = overlay.mapping else { return overlay }
    for pair in overlayPairs {
      guard let key = pair.key.scalar?.text else { continue }
      if let i = pairs.firstIndex(where: { $0.key.scalar?.text == key }) {
        if pair.value.isNull {
          pairs.remove(at: i)
        } else if pairs[i].value.mapping != nil && pair.value.mapping != nil {
          pairs[i].value = merge(pairs[i].value, pair.value)
        } else {
          pairs[i] = pair
        }
      } else if !pair.value.isNull {
        pairs.append(pair)
      }
    }
    return YAMLNode(.mapping(pairs), location: base.location, tag: base.tag)
  }
}
