import Foundation

/// Every inventory and deploy plan of a project, loaded and checked together: each plan is
/// resolved against each host of each environment, so a `${VAR}` a host lacks or a port an
/// override breaks is found by `validate`, before any deploy.
public struct Project: Sendable {
  /// Ordered along `promote_from` (dev, staging, prod), then by name.
  public var inventories: [Inventory]
  /// Ordered by app name.
  public var playbooks: [Playbook]
  /// Problems that do not stop a deploy.
  public var warnings: [Diagnostic]
  public var inventoriesDirectory: String
  public var playbooksDirectory: String

  public var environments: [String] { inventories.map(\.environment) }
  public var apps: [String] { playbooks.map(\.app) }

  /// Loads and checks everything; throws every error found (warnings included) when anything
  /// is wrong. `environment` supplies `$HOME` for `~` in paths.
  public static func load(
    inventoriesDirectory: String = "inventories", playbooksDirectory: String = "playbooks",
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(ConfigErrors) -> Project {
    let validation = validate(
      inventoriesDirectory: inventoriesDirectory, playbooksDirectory: playbooksDirectory,
      environment: environment)
    guard let project = validation.project else { throw ConfigErrors(validation.diagnostics) }
    return project
  }

  /// Loads and checks everything, never throwing: the diagnostics say what is wrong.
  public static func validate(
    inventoriesDirectory: String = "inventories", playbooksDirectory: String = "playbooks",
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> ProjectValidation {
    var loader = ProjectLoader(home: environment["HOME"] ?? NSHomeDirectory())
    return loader.run(inventoriesDirectory: inventoriesDirectory, playbooksDirectory: playbooksDirectory)
  }

  /// The inventory of environment `name`.
  public func inventory(named name: String) throws(ConfigErrors) -> Inventory {
    if let inventory = inventories.first(where: { $0.environment == name }) { return inventory }
    let known = environments.map { "`\($0)`" }.joined(separator: ", ")
    throw ConfigErrors([
      .error(
        at: SourceLocation(file: inventoriesDirectory),
        "no environment `\(name)` (no \(ProjectLoader.join(inventoriesDirectory, "\(name).yml"))); environments: \(known)"
          + Suggestion.hint(for: name, in: environments))
    ])
  }

  /// The plan of `app`; nil picks the only playbook there is.
  public func plan(app: String?) throws(ConfigErrors) -> Playbook {
    let location = SourceLocation(file: playbooksDirectory)
    guard let app else {
      if playbooks.count == 1 { return playbooks[0] }
      throw ConfigErrors([
        .error(
          at: location,
          "\(playbooks.count) deploy plans (\(apps.joined(separator: ", "))): choose one with `--app NAME`")
      ])
    }
    if let playbook = playbooks.first(where: { $0.app == app }) { return playbook }
    throw ConfigErrors([
      .error(
        at: location,
        "no app `\(app)` (no \(ProjectLoader.join(playbooksDirectory, "\(app).yml"))); apps: \(apps.joined(separator: ", "))"
          + Suggestion.hint(for: app, in: apps))
    ])
  }
}

/// What `validate` found: every diagnostic, and the project when there was no error.
public struct ProjectValidation: Sendable {
  /// Sorted by file and position.
  public var diagnostics: [Diagnostic]
  /// Environment names (inventory file names), including those of broken files.
  public var environments: [String]
  /// App names (playbook file names), including those of broken files.
  public var apps: [String]
  /// nil when there is any error.
  public var project: Project?

  public var isValid: Bool { project != nil }
  public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
  public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
}

/// One pass over both folders.
struct ProjectLoader {
  let home: String
  var diagnostics: [Diagnostic] = []
  /// Every host's plan with `proxy:` (engine `hosts`), for the checks across plans.
  var proxied: [ResolvedPlan] = []

  init(home: String) {
    self.home = home
  }

  mutating func run(inventoriesDirectory: String, playbooksDirectory: String) -> ProjectValidation {
    let inventoryFiles = listFiles(
      inventoriesDirectory, what: "inventories", option: "--inventories",
      example: "dev.yml, staging.yml, prod.yml")
    let playbookFiles = listFiles(
      playbooksDirectory, what: "deploy plans", option: "--playbooks", example: "web.yml")
    let environmentNames = inventoryFiles.map(\.stem)

    var inventories: [Inventory] = []
    var promotions: [(environment: String, from: String, location: SourceLocation)] = []
    for file in inventoryFiles {
      guard let root = parse(file) else { continue }
      if let node = root["promote_from"], let text = node.scalar?.text, !node.isNull,
        Names.isContainerName(text)
      {
        promotions.append((file.stem, text, node.location))
      }
      let reader = NodeReader(root: root.location)
      let inventory = Inventory.decode(
        root, file: file.display, expectedEnvironment: file.stem, home: home, reader: reader)
      diagnostics += reader.diagnostics
      if let inventory { inventories.append(inventory) }
    }
    checkPromotion(inventories, promotions: promotions, known: environmentNames)
    checkAddresses(inventories)
    let sources = Dictionary(
      promotions.map { ($0.environment, $0.from) }, uniquingKeysWith: { a, _ in a })
    let order = Self.promotionOrder(environmentNames, sources: sources)
    let rank = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: min)
    inventories.sort { rank[$0.environment, default: .max] < rank[$1.environment, default: .max] }

    var playbooks: [Playbook] = []
    for file in playbookFiles {
      guard let root = parse(file) else { continue }
      let reader = NodeReader(root: root.location)
      let playbook = Playbook.decode(root, file: file.display, expectedApp: file.stem, reader: reader)
      diagnostics += reader.diagnostics
      guard let playbook else { continue }
      for override in playbook.overrides where !environmentNames.contains(override.environment) {
        diagnostics.append(
          .error(
            at: override.key.location,
            "`environments.\(override.environment)`: there is no environment `\(override.environment)` (no \(Self.join(inventoriesDirectory, "\(override.environment).yml")))"
              + Suggestion.hint(for: override.environment, in: environmentNames)))
      }
      diagnostics += check(playbook, against: inventories)
      playbooks.append(playbook)
    }
    checkProxyRoutes()

    let normalized = Diagnostic.normalized(diagnostics)
    let valid =
      !normalized.contains { $0.severity == .error } && !inventoryFiles.isEmpty && !playbookFiles.isEmpty
    return ProjectValidation(
      diagnostics: normalized, environments: order, apps: playbookFiles.map(\.stem),
      project: valid
        ? Project(
          inventories: inventories, playbooks: playbooks.sorted { $0.app < $1.app },
          warnings: normalized, inventoriesDirectory: inventoriesDirectory,
          playbooksDirectory: playbooksDirectory)
        : nil)
  }

  /// Resolves the plan for every host of every environment. With no usable inventory, the
  /// plan is still checked on its own (variables cannot be checked then).
  private mutating func check(_ playbook: Playbook, against inventories: [Inventory]) -> [Diagnostic] {
    var result: [Diagnostic] = []
    var unknown: [UnknownVariable] = []
    for inventory in inventories {
      for host in inventory.hosts {
        let reader = NodeReader(root: playbook.base.location)
        let plan = playbook.resolve(for: inventory, host: host, reader: reader, unknown: &unknown)
        result += reader.diagnostics
        if let plan {
          result += Self.engineDiagnostics(plan, inventory)
          if plan.proxy != nil, inventory.engine == .hosts { proxied.append(plan) }
        }
      }
    }
    result += Self.roleDiagnostics(playbook, inventories)
    if inventories.isEmpty {
      let reader = NodeReader(root: playbook.base.location)
      let placeholder = Host(
        name: "-", address: "-", user: "-", knownHostsFile: "-", location: playbook.base.location)
      let inventory = Inventory(environment: "-", hosts: [placeholder], file: "-")
      var ignored: [UnknownVariable] = []
      _ = playbook.resolve(for: inventory, host: placeholder, reader: reader, unknown: &ignored)
      result += reader.diagnostics
    } else {
      result += UnknownVariable.diagnostics(unknown, inventories: inventories)
    }
    return result
  }

  /// What the inventory's engine cannot do with `plan` (`rollout.order: start-first` with a
  /// published port on `engine: hosts`; the `docker run` options Swarm lacks), at its place.
  static func engineDiagnostics(_ plan: ResolvedPlan, _ inventory: Inventory) -> [Diagnostic] {
    let context = " (environment `\(inventory.environment)`, \(inventory.file))"
    switch inventory.engine {
    case .hosts:
      guard plan.rollout.order == .startFirst, let port = plan.container.ports.first else { return [] }
      return [
        .error(
          at: plan.sourceMap.location(of: "rollout.order"),
          "`rollout.order: start-first` starts the new container while the old one still holds host port \(port.hostPort); with `engine: hosts` it needs a plan that publishes no port"
            + context)
      ]
    case .swarm(let settings):
      guard plan.host.name == settings.manager else { return [] }
      if plan.proxy != nil {
        return [
          .error(
            at: plan.sourceMap.location(of: "proxy.app_port"),
            "`proxy:` does not go with `engine: swarm`: Swarm's routing mesh publishes the service's ports; use `container.ports` there"
              + context)
        ]
      }
      return SwarmService.problems(plan).map { problem in
        let location = plan.sourceMap.location(of: problem.path)
        return problem.isError
          ? .error(at: location, problem.message + context)
          : .warning(at: location, problem.message + context)
      }
    }
  }

  // MARK: cross-file checks

  /// `promote_from` must name an environment, not itself, and not go round in a circle.
  private mutating func checkPromotion(
    _ inventories: [Inventory], promotions: [(environment: String, from: String, location: SourceLocation)],
    known: [String]
  ) {
    let byName = Dictionary(inventories.map { ($0.environment, $0) }, uniquingKeysWith: { a, _ in a })
    // Checked on the raw files, so a broken inventory still gets this one checked too.
    for (environment, from, location) in promotions {
      if from == environment {
        diagnostics.append(.error(at: location, "`promote_from: \(from)` names this environment itself"))
      } else if !known.contains(from) {
        diagnostics.append(
          .error(
            at: location,
            "`promote_from: \(from)`: there is no environment `\(from)`; environments: \(known.joined(separator: ", "))"
              + Suggestion.hint(for: from, in: known)))
      }
    }
    var reported = Set<String>()
    for start in inventories.map(\.environment).sorted() {
      var chain = [start]
      var current = start
      while let next = byName[current]?.promoteFrom, byName[next] != nil, next != current {
        if let i = chain.firstIndex(of: next) {
          let cycle = Array(chain[i...])
          // Each environment of the cycle promotes from the next one, the last from the first.
          if reported.isDisjoint(with: cycle), let first = cycle.min(),
            let head = cycle.firstIndex(of: first),
            let firstInventory = byName[first]
          {
            reported.formUnion(cycle)
            let rotated = Array(cycle[head...] + cycle[..<head])
            let steps = rotated.indices.map { k in
              "\(rotated[k]) promotes from \(rotated[(k + 1) % rotated.count])"
            }.joined(separator: ", ")
            diagnostics.append(
              .error(
                at: firstInventory.sourceMap.location(of: "promote_from"),
                "`promote_from` forms a cycle: \(steps); the first environment of the chain must not promote from any"
              ))
          }
          break
        }
        chain.append(next)
        current = next
      }
    }
  }

  /// A role's `hosts` must name inventory hosts; a role with no host in an environment is said
  /// (commands on that environment refuse the plan; the others work).
  static func roleDiagnostics(_ playbook: Playbook, _ inventories: [Inventory]) -> [Diagnostic] {
    guard !inventories.isEmpty else { return [] }
    var result: [Diagnostic] = []
    let known = Set(inventories.flatMap { $0.hosts.map(\.name) })
    for (role, location, hosts) in playbook.roleHosts {
      guard let hosts else { continue }
      for (name, at) in hosts where !known.contains(name) {
        result.append(
          .error(
            at: at,
            "`roles.\(role).hosts`: there is no host `\(name)` in any inventory"
              + Suggestion.hint(for: name, in: Array(known).sorted())))
      }
      for inventory in inventories
      where !hosts.contains(where: { h in inventory.hosts.contains { $0.name == h.0 } }) {
        result.append(
          .warning(
            at: location,
            "role `\(role)` has no host in environment `\(inventory.environment)`: commands on `\(inventory.environment)` refuse this plan"
          ))
      }
    }
    return result
  }

  /// Plans with `proxy:` that share a host (same address and port) share its one proxy: no two
  /// may claim the same Host name and path, and all must agree on the ports it publishes.
  private mutating func checkProxyRoutes() {
    var claims: [String: ResolvedPlan] = [:]
    var ports: [String: ResolvedPlan] = [:]
    var reported = Set<String>()
    for plan in proxied {
      guard let proxy = plan.proxy else { continue }
      let host = "\(plan.host.address.lowercased()):\(plan.host.port)"
      let context = "host `\(plan.host.name)` of `\(plan.environment)`"
      if let first = ports[host], let other = first.proxy,
        (other.httpPort, other.httpsPort) != (proxy.httpPort, proxy.httpsPort)
      {
        let key = "ports \(plan.app) \(plan.environment) \(first.app)"
        if reported.insert(key).inserted {
          diagnostics.append(
            .error(
              at: plan.sourceMap.location(of: "proxy.http_port"),
              "`proxy` ports \(proxy.httpPort)/\(proxy.httpsPort) differ from those of app `\(first.app)` (\(first.file)), \(other.httpPort)/\(other.httpsPort), on \(context): the host has one proxy; give both plans the same `http_port` and `https_port`"
            ))
        }
      } else if ports[host] == nil {
        ports[host] = plan
      }
      for claim in proxy.claims {
        let key = host + " " + claim
        if let first = claims[key], first.app != plan.app || first.environment != plan.environment {
          if reported.insert(
            "route \(claim) \(first.app) \(first.environment) \(plan.app) \(plan.environment)"
          ).inserted {
            diagnostics.append(
              .error(
                at: plan.sourceMap.location(of: proxy.hosts.isEmpty ? "proxy.app_port" : "proxy.hosts"),
                "`proxy` route \(ProxySpec.describe(claim: claim)) on \(context) is also claimed by app `\(first.app)` of `\(first.environment)` (\(first.file)): two apps on one host's proxy need different `hosts` or `path_prefix`"
              ))
          }
        } else if claims[key] == nil {
          claims[key] = plan
        }
      }
    }
  }

  /// Two hosts at one address and port would share container names and ports.
  private mutating func checkAddresses(_ inventories: [Inventory]) {
    var seen: [String: (Host, Inventory)] = [:]
    for inventory in inventories {
      for host in inventory.hosts {
        let key = "\(host.address.lowercased()):\(host.port)"
        if let (first, firstInventory) = seen[key] {
          let location = host.sourceMap["address"] ?? host.location
          if firstInventory.environment == inventory.environment {
            diagnostics.append(
              .warning(
                at: location,
                "host `\(host.name)` has the same address and port as host `\(first.name)` (line \(first.location.line)); both would run the same containers"
              ))
          } else {
            diagnostics.append(
              .warning(
                at: location,
                "host `\(host.name)` has the same address and port as host `\(first.name)` of `\(firstInventory.environment)` (\(first.location)); the two environments would replace each other's containers"
              ))
          }
        } else {
          seen[key] = (host, inventory)
        }
      }
    }
  }

  /// Environments that promote from nothing first, then those that promote from them, …;
  /// alphabetical within a step, cycles last.
  static func promotionOrder(_ names: [String], sources: [String: String]) -> [String] {
    var placed: [String] = []
    var remaining = names.sorted()
    while !remaining.isEmpty {
      let ready = remaining.filter { name in sources[name].map { !remaining.contains($0) } ?? true }
      if ready.isEmpty {
        placed += remaining
        break
      }
      placed += ready
      remaining.removeAll { ready.contains($0) }
    }
    return placed
  }

  // MARK: files

  struct File {
    var path: String
    var display: String
    var stem: String
  }

  private mutating func listFiles(_ directory: String, what: String, option: String, example: String)
    -> [File]
  {
    let location = SourceLocation(file: Self.display(directory))
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
      diagnostics.append(
        .error(
          at: location,
          "no such directory; create it with one file per \(what == "inventories" ? "environment" : "app") (\(example)), or pass \(option) DIR"
        ))
      return []
    }
    guard isDirectory.boolValue else {
      diagnostics.append(.error(at: location, "not a directory; pass \(option) DIR with the \(what)"))
      return []
    }
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    } catch {
      diagnostics.append(.error(at: location, "cannot read the directory: \(error.localizedDescription)"))
      return []
    }
    var files: [File] = []
    for name in names where !name.hasPrefix(".") {
      let path = (directory as NSString).appendingPathComponent(name)
      if name.hasSuffix(".yaml") {
        diagnostics.append(
          .warning(
            at: SourceLocation(file: Self.join(directory, name)),
            "ignored: deployctl reads `*.yml` files; rename it to `\(name.dropLast(5)).yml`"))
      }
      guard name.hasSuffix(".yml") else { continue }
      files.append(File(path: path, display: Self.join(directory, name), stem: String(name.dropLast(4))))
    }
    if files.isEmpty {
      diagnostics.append(.error(at: location, "no \(what) here: expected \(example)"))
    }
    return files
  }

  private mutating func parse(_ file: File) -> YAMLNode? {
    do {
      let bytes = try YAML.readFile(path: file.path, file: file.display)
      let document = try YAML.parseDocument(bytes, file: file.display)
      diagnostics += document.duplicateKeys.map { .error(at: $0.location, $0.message) }
      return document.root
    } catch {
      diagnostics.append(.error(at: error.location, error.message))
      return nil
    }
  }

  /// A directory as the user gave it, without `./` or a trailing `/`.
  static func display(_ directory: String) -> String {
    var d = directory
    while d.hasPrefix("./") { d.removeFirst(2) }
    while d.count > 1 && d.hasSuffix("/") { d.removeLast() }
    return d.isEmpty ? "." : d
  }

  static func join(_ directory: String, _ name: String) -> String {
    let d = display(directory)
    if d == "." { return name }
    return d.hasSuffix("/") ? d + name : d + "/" + name
  }
}
