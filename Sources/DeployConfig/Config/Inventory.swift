/// One environment's hosts and how to reach them (`inventories/<env>.yml`).
public struct Inventory: Sendable {
  public var environment: String
  /// The only environment `promote` accepts as the source for this one.
  public var promoteFrom: String?
  /// How long a release must have been live and healthy in the source environment before
  /// `promote` takes it here (`promote_min_age: 30m`); `--min-age` can only ask for longer.
  public var promoteMinAge: Duration?
  /// How long the environment's lock holds without renewal (`lock: {ttl: 60s}`): a run that dies
  /// or is cut off loses the lock this long after its last renewal.
  public var lockTTL: Duration = Inventory.defaultLockTTL
  public static let defaultLockTTL: Duration = .seconds(60)
  /// `promote_requires: verified`: `promote FROM here` only takes a release that passed
  /// verification on every FROM host.
  public var promoteRequires: PromoteRequirement? = nil
  /// `engine: hosts` (default: a container per host over SSH) or `engine: swarm` (a Swarm service
  /// driven through `swarm.manager`).
  public var engine: Engine = .hosts
  /// In file order.
  public var hosts: [Host]
  /// The file as messages show it (`inventories/prod.yml`).
  public var file: String
  public var sourceMap: SourceMap

  public init(
    environment: String, promoteFrom: String? = nil, promoteMinAge: Duration? = nil, hosts: [Host],
    file: String,
    sourceMap: SourceMap? = nil
  ) {
    self.environment = environment
    self.promoteFrom = promoteFrom
    self.promoteMinAge = promoteMinAge
    self.hosts = hosts
    self.file = file
    self.sourceMap = sourceMap ?? SourceMap(root: SourceLocation(file: file))
  }

  public func host(named name: String) -> Host? {
    hosts.first { $0.name == name }
  }

  /// The keys of `ssh:`; each one can also be set on a host.
  static let sshKeys = [
    "user", "port", "identity_file", "known_hosts", "host_key_policy", "connect_timeout", "jump",
  ]
}

extension Inventory {
  /// How an environment runs the app.
  public enum Engine: Sendable, Hashable {
    /// A container per host, each over its own SSH session (the default).
    case hosts
    /// A Docker Swarm service, every command run on the manager.
    case swarm(SwarmSettings)

    public var swarm: SwarmSettings? {
      if case .swarm(let settings) = self { return settings }
      return nil
    }
  }
}

/// `swarm:` of an inventory with `engine: swarm`.
public struct SwarmSettings: Sendable, Hashable {
  /// The host (of the inventory's) where every command runs.
  public var manager: String
  /// Default 1.
  public var replicas: Int = 1
  /// How ports are published: Swarm's routing mesh (default) or each task on its own node.
  public var publish: PublishMode = .ingress
  /// Where `swarm:` is.
  public var location: SourceLocation

  public enum PublishMode: String, Sendable, Hashable {
    case ingress, host
  }

  public init(manager: String, replicas: Int = 1, publish: PublishMode = .ingress, location: SourceLocation) {
    self.manager = manager
    self.replicas = replicas
    self.publish = publish
    self.location = location
  }
}

/// One host with every SSH setting resolved: its own, else the inventory's `ssh:` default, else
/// deployctl's default.
public struct Host: Sendable, Hashable {
  /// The key under `hosts:` (`web1`): what `--limit` and the output use.
  public var name: String
  public var address: String
  /// Default 22.
  public var port: Int
  public var user: String
  /// A private key file, `~` expanded; nil: use the ssh-agent at `$SSH_AUTH_SOCK`.
  public var identityFile: String?
  /// Default `~/.ssh/known_hosts`, `~` expanded.
  public var knownHostsFile: String
  /// Default `strict`.
  public var hostKeyPolicy: HostKeyPolicy
  /// Default 10s.
  public var connectTimeout: Duration
  public var jump: JumpHost?
  /// Substituted into the plan as `${NAME}`.
  public var vars: [String: String]
  /// Where the host is defined (its key under `hosts:`).
  public var location: SourceLocation
  /// Where each setting came from (`address`, `port`, `user`, … : the host's own line or the
  /// `ssh:` default it inherited).
  public var sourceMap: SourceMap

  public init(
    name: String, address: String, port: Int = 22, user: String, identityFile: String? = nil,
    knownHostsFile: String, hostKeyPolicy: HostKeyPolicy = .strict, connectTimeout: Duration = .seconds(10),
    jump: JumpHost? = nil, vars: [String: String] = [:], location: SourceLocation
  ) {
    self.name = name
    self.address = address
    self.port = port
    self.user = user
    self.identityFile = identityFile
    self.knownHostsFile = knownHostsFile
    self.hostKeyPolicy = hostKeyPolicy
    self.connectTimeout = connectTimeout
    self.jump = jump
    self.vars = vars
    self.location = location
    self.sourceMap = SourceMap(root: location)
  }

  /// For messages: `web1 (10.0.1.11:2222)`.
  public var displayName: String {
    "\(name) (\(address.contains(":") ? "[\(address)]" : address)\(port == 22 ? "" : ":\(port)"))"
  }
}

/// The SSH settings one mapping sets (`ssh:` or a host); absent keys stay nil.
struct SSHSettings {
  var user: String?
  var port: Int?
  var identityFile: String?
  var knownHosts: String?
  var hostKeyPolicy: HostKeyPolicy?
  var connectTimeout: Duration?
  var jump: JumpHost?
  /// Where each key was set.
  var locations: [String: SourceLocation] = [:]
}

extension Inventory {
  /// Reads an inventory tree. `expectedEnvironment` is the file's name without `.yml`;
  /// `home` expands `~`.
  static func decode(
    _ root: YAMLNode, file: String, expectedEnvironment: String, home: String, reader: NodeReader
  )
    -> Inventory?
  {
    let path = ConfigPath.root
    guard
      let top = reader.mapping(
        root, path,
        known: [
          "environment", "promote_from", "promote_min_age", "promote_requires", "lock", "ssh", "hosts",
          "engine", "swarm",
        ],
        required: ["environment", "hosts"])
    else {
      if root.isNull { reader.error(root.location, "empty inventory; it needs `environment` and `hosts`") }
      return nil
    }
    let environment = top["environment"].flatMap {
      decodeEnvironment($0, expected: expectedEnvironment, reader)
    }
    let promoteFrom = top["promote_from"].flatMap {
      reader.name($0, path.key("promote_from"), .environmentName)
    }
    let promoteMinAge = top["promote_min_age"].flatMap { reader.duration($0, path.key("promote_min_age")) }
    let lockTTL = decodeLockTTL(top, reader: reader)
    let promoteRequires = top["promote_requires"].flatMap { decodePromoteRequires($0, reader) }
    var defaults = SSHSettings()
    if let node = top["ssh"], let ssh = reader.mapping(node, path.key("ssh"), known: sshKeys) {
      defaults = readSSH(ssh, reader: reader, home: home)
    }
    let hosts = top["hosts"].map { decodeHosts($0, defaults: defaults, home: home, reader: reader) } ?? []
    let engine = decodeEngine(top, hosts: hosts, reader: reader)
    guard let environment, let engine, !hosts.isEmpty, !reader.hasErrors else { return nil }
    var inventory = Inventory(
      environment: environment, promoteFrom: promoteFrom, promoteMinAge: promoteMinAge, hosts: hosts,
      file: file,
      sourceMap: reader.sourceMap)
    inventory.lockTTL = lockTTL
    inventory.promoteRequires = promoteRequires
    inventory.engine = engine
    return inventory
  }

  /// `environment:`, which must match the file's name.
  private static func decodeEnvironment(_ node: YAMLNode, expected: String, _ reader: NodeReader) -> String? {
    let environment = reader.name(node, ConfigPath.root.key("environment"), .environmentName)
    if let name = environment, name != expected {
      reader.error(
        node.location,
        "`environment: \(name)` does not match the file name `\(expected).yml`; rename one so they agree"
      )
    }
    return environment
  }

  /// `lock: {ttl:}`, or the default.
  private static func decodeLockTTL(_ top: NodeReader.Mapping, reader: NodeReader) -> Duration {
    let path = ConfigPath.root.key("lock")
    guard let node = top["lock"], let lock = reader.mapping(node, path, known: ["ttl"]),
      let ttl = lock["ttl"].flatMap({ reader.duration($0, path.key("ttl"), minimum: .seconds(3)) })
    else { return defaultLockTTL }
    return ttl
  }

  private static func decodePromoteRequires(_ node: YAMLNode, _ reader: NodeReader) -> PromoteRequirement? {
    reader.parse(node, ConfigPath.root.key("promote_requires"), "`verified`") {
      (text: String) throws(ValueError) in
      guard let requirement = PromoteRequirement(rawValue: text) else {
        throw ValueError("`\(text)` is not a promotion requirement; the one there is: `verified`")
      }
      return requirement
    }
  }

  /// `hosts:`, each with the inventory's `ssh:` settings as defaults.
  private static func decodeHosts(
    _ node: YAMLNode, defaults: SSHSettings, home: String, reader: NodeReader
  ) -> [Host] {
    if let pairs = node.mapping, pairs.isEmpty {
      reader.error(node.location, "`hosts` is empty; list at least one host")
      return []
    }
    guard reader.mapping(node, ConfigPath.root.key("hosts"), known: nil) != nil else { return [] }
    let hosts = (node.mapping ?? []).compactMap {
      decodeHost($0, defaults: defaults, home: home, reader: reader)
    }
    checkCaseClashes(hosts, reader: reader)
    return hosts
  }

  /// `engine:` and `swarm:`; nil after an error.
  private static func decodeEngine(_ top: NodeReader.Mapping, hosts: [Host], reader: NodeReader) -> Engine? {
    let path = ConfigPath.root
    var isSwarm = false
    if let node = top["engine"] {
      guard
        let text = reader.parse(
          node, path.key("engine"), "`hosts` or `swarm`",
          { (text: String) throws(ValueError) in
            guard text == "hosts" || text == "swarm" else {
              throw ValueError(
                "`\(text)` is not an engine: use `hosts` (a container per host over SSH) or `swarm` (a Docker Swarm service)"
              )
            }
            return text
          })
      else { return nil }
      isSwarm = text == "swarm"
    }
    guard let node = top["swarm"] else {
      if isSwarm, let engine = top["engine"] {
        reader.error(
          engine.location,
          "`engine: swarm` needs a `swarm:` mapping naming its manager, e.g. `swarm: {manager: \(hosts.first?.name ?? "mgr1")}`"
        )
        return nil
      }
      return .hosts
    }
    guard isSwarm else {
      reader.error(
        node.location, "`swarm:` is only read with `engine: swarm`; add `engine: swarm` or remove it")
      return nil
    }
    let swarmPath = path.key("swarm")
    guard
      let swarm = reader.mapping(
        node, swarmPath, known: ["manager", "replicas", "publish"], required: ["manager"])
    else { return nil }
    var settings = SwarmSettings(manager: "", location: node.location)
    if let manager = swarm["manager"] {
      guard let name = reader.name(manager, swarmPath.key("manager"), .hostName) else { return nil }
      guard hosts.contains(where: { $0.name == name }) else {
        reader.error(
          manager.location,
          "`swarm.manager: \(name)` is not one of this inventory's hosts (\(hosts.map(\.name).joined(separator: ", "))); every command runs on the manager, so list it under `hosts:`"
            + Suggestion.hint(for: name, in: hosts.map(\.name)))
        return nil
      }
      settings.manager = name
    }
    if let replicas = swarm["replicas"] {
      guard let count = reader.integer(replicas, swarmPath.key("replicas"), 1...10_000, "a number of tasks")
      else { return nil }
      settings.replicas = count
    }
    if let publish = swarm["publish"] {
      guard
        let mode = reader.parse(
          publish, swarmPath.key("publish"), "`ingress` or `host`",
          { (text: String) throws(ValueError) in
            guard let mode = SwarmSettings.PublishMode(rawValue: text) else {
              throw ValueError(
                "`\(text)` is not a publish mode: use `ingress` (Swarm's routing mesh: every node answers on the port) or `host` (each task on its own node's port)"
              )
            }
            return mode
          })
      else { return nil }
      settings.publish = mode
    }
    return .swarm(settings)
  }

  private static func decodeHost(_ pair: YAMLPair, defaults: SSHSettings, home: String, reader: NodeReader)
    -> Host?
  {
    let hostsPath = ConfigPath.root.key("hosts")
    guard let name = reader.name(pair.key, hostsPath, .hostName) else { return nil }
    let path = hostsPath.key(name)
    guard
      let mapping = reader.mapping(
        pair.value, path, known: ["address", "vars"] + sshKeys, required: ["address"])
    else {
      if pair.value.isNull {
        reader.error(pair.key.location, "host `\(name)` has no settings; it needs at least `address`")
      }
      return nil
    }
    let own = readSSH(mapping, reader: reader, home: home)
    let addressNode = mapping["address"]
    let address = addressNode.flatMap { reader.name($0, path.key("address"), .address) }
    var vars: [String: String] = [:]
    var varLocations: [String: SourceLocation] = [:]
    if let node = mapping["vars"],
      let varsMapping = reader.mapping(
        node, path.key("vars"), known: nil)
    {
      for entry in varsMapping.node.mapping ?? [] {
        guard let key = reader.name(entry.key, path.key("vars"), .variableName) else { continue }
        if key == "environment" {
          reader.error(
            entry.key.location,
            "`environment` is set by deployctl to the environment's name; pick another variable name")
          continue
        }
        guard !entry.value.isNull else {
          reader.error(entry.value.location, "`\(path.key("vars").key(key))` has no value")
          continue
        }
        if let value = reader.string(entry.value, path.key("vars").key(key)) {
          vars[key] = value
          varLocations[key] = entry.value.location
        }
      }
    }
    let user = own.user ?? defaults.user
    if user == nil {
      reader.error(
        pair.key.location,
        "host `\(name)` has no SSH user; set `user` under `ssh:` (for every host) or on the host")
    }
    guard let addressNode, let address, let user else { return nil }
    var host = Host(
      name: name, address: address, port: own.port ?? defaults.port ?? 22, user: user,
      identityFile: own.identityFile ?? defaults.identityFile,
      knownHostsFile: own.knownHosts ?? defaults.knownHosts ?? expandHome("~/.ssh/known_hosts", home: home),
      hostKeyPolicy: own.hostKeyPolicy ?? defaults.hostKeyPolicy ?? .strict,
      connectTimeout: own.connectTimeout ?? defaults.connectTimeout ?? .seconds(10),
      jump: own.jump ?? defaults.jump, vars: vars, location: pair.key.location)
    host.sourceMap.record("address", addressNode.location)
    for key in sshKeys {
      if let location = own.locations[key] ?? defaults.locations[key] { host.sourceMap.record(key, location) }
    }
    for (key, location) in varLocations { host.sourceMap.record("vars.\(key)", location) }
    return host
  }

  private static func readSSH(_ mapping: NodeReader.Mapping, reader: NodeReader, home: String) -> SSHSettings
  {
    var settings = SSHSettings()
    let path = mapping.path
    for key in sshKeys {
      guard let node = mapping[key] else { continue }
      settings.locations[key] = node.location
      switch key {
      case "user": settings.user = reader.name(node, path.key(key), .userName)
      case "port": settings.port = reader.port(node, path.key(key))
      case "identity_file": settings.identityFile = localPath(node, path.key(key), home: home, reader: reader)
      case "known_hosts": settings.knownHosts = localPath(node, path.key(key), home: home, reader: reader)
      case "host_key_policy":
        settings.hostKeyPolicy = reader.parse(node, path.key(key), "`strict` or `accept-new`") {
          (text: String) throws(ValueError) in
          guard let policy = HostKeyPolicy(rawValue: text) else {
            throw ValueError(
              "`\(text)` is not a host key policy: use `strict` (refuse unknown keys) or `accept-new` (record unknown keys, refuse changed ones)"
            )
          }
          return policy
        }
      case "connect_timeout":
        settings.connectTimeout = reader.duration(node, path.key(key), minimum: .milliseconds(1))
      case "jump":
        settings.jump = reader.parse(node, path.key(key), "`user@host:port`") {
          (text: String) throws(ValueError) in
          try JumpHost(parsing: text)
        }
      default: break
      }
    }
    return settings
  }

  /// A file on the machine deployctl runs on: `~` expanded, never sent to a host.
  private static func localPath(_ node: YAMLNode, _ path: ConfigPath, home: String, reader: NodeReader)
    -> String?
  {
    guard let text = reader.string(node, path) else { return nil }
    if text.isEmpty {
      reader.error(node.location, "\(path.quoted) is empty")
      return nil
    }
    if text.hasPrefix("~") && !text.hasPrefix("~/") && text != "~" {
      reader.error(
        node.location, "\(path.quoted): `~user` paths are not supported; write `~/…` or an absolute path")
      return nil
    }
    return expandHome(text, home: home)
  }

  static func expandHome(_ path: String, home: String) -> String {
    if path == "~" { return home }
    guard path.hasPrefix("~/") else { return path }
    return (home.hasSuffix("/") ? String(home.dropLast()) : home) + path.dropFirst()
  }

  /// `web1` and `WEB1` would be the same name to DNS and to people reading `--limit`.
  private static func checkCaseClashes(_ hosts: [Host], reader: NodeReader) {
    var seen: [String: Host] = [:]
    for host in hosts {
      if let first = seen[host.name.lowercased()] {
        reader.error(
          host.location,
          "host `\(host.name)` differs from host `\(first.name)` (line \(first.location.line)) only in case; host names must be unique"
        )
      } else {
        seen[host.name.lowercased()] = host
      }
    }
  }
}
