/// The `docker run` options beyond ports, volumes, env and restart (docs/configuration.md
/// "Container options"). Values are kept in Docker's own spelling, already checked by the config layer
/// (`ContainerOptions+Parsing.swift`), so they print, store and compare as written. Every field
/// is optional in release records: a record written before these options existed decodes with
/// none set.
public struct ContainerOptions: Sendable, Hashable, Codable {
  /// `--network`: an existing Docker network; nil: the engine's default bridge.
  public var network: String?
  /// `--network-alias`, each.
  public var networkAliases: [String]
  /// `--memory`, Docker's size syntax (`512m`).
  public var memory: String?
  /// `--cpus` (`1.5`).
  public var cpus: Double?
  /// `--user`: `name|uid[:group|gid]`.
  public var user: String?
  /// `--gpus`: `all`, a count, or `"device=0,1"` (with its quotes: Docker reads the value as CSV).
  public var gpus: String?
  public var hostname: String?
  /// `--entrypoint` takes one word; the rest go before the command. An empty list is not an
  /// override (nil).
  public var entrypoint: [String]?
  public var workdir: String?
  /// `--add-host NAME:IP`, each.
  public var addHosts: [String]
  /// Capability names without `CAP_`, upper case (`NET_BIND_SERVICE`, `ALL`).
  public var capAdd: [String]
  public var capDrop: [String]
  public var readOnly: Bool
  /// `--tmpfs PATH[:OPTIONS]`, each.
  public var tmpfs: [String]
  public var ulimits: [Ulimit]
  /// Any other `docker run` flag, one word each (`--pids-limit=200`).
  public var dockerArgs: [String]

  public init(
    network: String? = nil, networkAliases: [String] = [], memory: String? = nil, cpus: Double? = nil,
    user: String? = nil, gpus: String? = nil, hostname: String? = nil, entrypoint: [String]? = nil,
    workdir: String? = nil, addHosts: [String] = [], capAdd: [String] = [], capDrop: [String] = [],
    readOnly: Bool = false, tmpfs: [String] = [], ulimits: [Ulimit] = [], dockerArgs: [String] = []
  ) {
    self.network = network
    self.networkAliases = networkAliases
    self.memory = memory
    self.cpus = cpus
    self.user = user
    self.gpus = gpus
    self.hostname = hostname
    self.entrypoint = entrypoint
    self.workdir = workdir
    self.addHosts = addHosts
    self.capAdd = capAdd
    self.capDrop = capDrop
    self.readOnly = readOnly
    self.tmpfs = tmpfs
    self.ulimits = ulimits
    self.dockerArgs = dockerArgs
  }

  public var isEmpty: Bool { self == ContainerOptions() }

  /// One `--ulimit NAME=SOFT:HARD`.
  public struct Ulimit: Sendable, Hashable, Codable {
    public var name: String
    public var soft: Int
    public var hard: Int

    public init(name: String, soft: Int, hard: Int) {
      self.name = name
      self.soft = soft
      self.hard = hard
    }

    public var argument: String { "\(name)=\(soft):\(hard)" }
  }

  /// The `docker run` words for these options, before the image. The entrypoint's arguments
  /// after its first word are not here: they go after the image (`commandPrefix`).
  public var arguments: [String] {
    var argv: [String] = []
    if let network { argv += ["--network", network] }
    for alias in networkAliases { argv += ["--network-alias", alias] }
    if let hostname { argv += ["--hostname", hostname] }
    for entry in addHosts { argv += ["--add-host", entry] }
    if let memory { argv += ["--memory", memory] }
    if let cpus { argv += ["--cpus", Self.decimal(cpus)] }
    if let gpus { argv += ["--gpus", gpus] }
    if let user { argv += ["--user", user] }
    if let workdir { argv += ["--workdir", workdir] }
    if let first = entrypoint?.first { argv += ["--entrypoint", first] }
    for capability in capAdd { argv += ["--cap-add", capability] }
    for capability in capDrop { argv += ["--cap-drop", capability] }
    if readOnly { argv.append("--read-only") }
    for mount in tmpfs { argv += ["--tmpfs", mount] }
    for limit in ulimits { argv += ["--ulimit", limit.argument] }
    return argv + dockerArgs
  }

  /// The entrypoint's words after the first, which `docker run` takes after the image, before
  /// the command. (Docker drops the image's own CMD when the entrypoint is overridden.)
  public var commandPrefix: [String] { Array((entrypoint ?? []).dropFirst()) }

  /// `1.5`, `2` (no `2.0`).
  package static func decimal(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
  }

  /// Problems a hand-made spec can have (the config layer reports them with file:line:col first).
  func problems() -> [String] {
    var problems: [String] = []
    let words: [String] =
      [network, memory, user, gpus, hostname, workdir].compactMap { $0 } + networkAliases
      + (entrypoint ?? []) + addHosts + capAdd + capDrop + tmpfs + dockerArgs
    if words.contains(where: { $0.unicodeScalars.contains("\0") }) {
      problems.append("a container option contains a NUL byte")
    }
    for word in dockerArgs where !word.hasPrefix("-") {
      problems.append(
        "docker_args: `\(word)` does not start with `-`; write a flag and its value as one word")
    }
    if let cpus, !(cpus > 0) || !cpus.isFinite { problems.append("cpus must be more than 0") }
    for limit in ulimits where limit.soft > limit.hard {
      problems.append("ulimit \(limit.name): soft \(limit.soft) is above hard \(limit.hard)")
    }
    return problems
  }

  enum CodingKeys: String, CodingKey {
    case network, memory, cpus, user, gpus, hostname, entrypoint, workdir, tmpfs, ulimits
    case networkAliases = "network_aliases"
    case addHosts = "add_hosts"
    case capAdd = "cap_add"
    case capDrop = "cap_drop"
    case readOnly = "read_only"
    case dockerArgs = "docker_args"
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    network = try c.decodeIfPresent(String.self, forKey: .network)
    networkAliases = try c.decodeIfPresent([String].self, forKey: .networkAliases) ?? []
    memory = try c.decodeIfPresent(String.self, forKey: .memory)
    cpus = try c.decodeIfPresent(Double.self, forKey: .cpus)
    user = try c.decodeIfPresent(String.self, forKey: .user)
    gpus = try c.decodeIfPresent(String.self, forKey: .gpus)
    hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
    entrypoint = try c.decodeIfPresent([String].self, forKey: .entrypoint)
    workdir = try c.decodeIfPresent(String.self, forKey: .workdir)
    addHosts = try c.decodeIfPresent([String].self, forKey: .addHosts) ?? []
    capAdd = try c.decodeIfPresent([String].self, forKey: .capAdd) ?? []
    capDrop = try c.decodeIfPresent([String].self, forKey: .capDrop) ?? []
    readOnly = try c.decodeIfPresent(Bool.self, forKey: .readOnly) ?? false
    tmpfs = try c.decodeIfPresent([String].self, forKey: .tmpfs) ?? []
    ulimits = try c.decodeIfPresent([Ulimit].self, forKey: .ulimits) ?? []
    dockerArgs = try c.decodeIfPresent([String].self, forKey: .dockerArgs) ?? []
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encodeIfPresent(network, forKey: .network)
    if !networkAliases.isEmpty { try c.encode(networkAliases, forKey: .networkAliases) }
    try c.encodeIfPresent(memory, forKey: .memory)
    try c.encodeIfPresent(cpus, forKey: .cpus)
    try c.encodeIfPresent(user, forKey: .user)
    try c.encodeIfPresent(gpus, forKey: .gpus)
    try c.encodeIfPresent(hostname, forKey: .hostname)
    try c.encodeIfPresent(entrypoint, forKey: .entrypoint)
    try c.encodeIfPresent(workdir, forKey: .workdir)
    if !addHosts.isEmpty { try c.encode(addHosts, forKey: .addHosts) }
    if !capAdd.isEmpty { try c.encode(capAdd, forKey: .capAdd) }
    if !capDrop.isEmpty { try c.encode(capDrop, forKey: .capDrop) }
    if readOnly { try c.encode(readOnly, forKey: .readOnly) }
    if !tmpfs.isEmpty { try c.encode(tmpfs, forKey: .tmpfs) }
    if !ulimits.isEmpty { try c.encode(ulimits, forKey: .ulimits) }
    if !dockerArgs.isEmpty { try c.encode(dockerArgs, forKey: .dockerArgs) }
  }
}
