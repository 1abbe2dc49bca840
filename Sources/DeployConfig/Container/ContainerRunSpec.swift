import Foundation

/// Everything `docker run` needs for one release's container, independent of the config model:
/// the engine maps a plan and an inventory onto it. It never holds a secret value: secrets reach
/// the container through `envFile`, a file on the host (mode 0600) that the engine writes from
/// the SSH channel's stdin, so the spec can be printed, stored in release records and shown as JSON.
public struct ContainerRunSpec: Sendable, Equatable, Codable {
  public var name: String
  /// The image to run, pinned by digest (`repo@sha256:…`).
  public var image: ImageReference
  public var ports: [PortMapping]
  public var volumes: [VolumeMount]
  /// Non-secret environment, in order (Docker lets a later duplicate win).
  public var env: [EnvVar]
  /// The host path of the env file holding the secrets, if any.
  public var envFile: String?
  /// The secrets' names (their values are never here): what a Swarm service mounts as Docker
  /// secrets. Empty in records written before Swarm support.
  public var secretNames: [String] = []
  /// Overrides the image's command when not empty.
  public var command: [String]
  public var restart: RestartPolicy
  /// `docker run --stop-timeout` in whole seconds; nil: Docker's default (10 s).
  public var stopTimeoutSeconds: Int?
  public var log: LogOptions?
  /// Written as the `deployctl.app` / `deployctl.environment` / `deployctl.release` labels.
  public var app: String
  public var environment: String
  public var release: String
  /// More labels. Keys under `deployctl.` are ours and refused here.
  public var extraLabels: [String: String]
  /// `--init` (true), `--init=false` (false), or the daemon's default (nil).
  public var initProcess: Bool?
  /// Network, limits, user, capabilities and the other `docker run` options; none when absent
  /// from an older release record.
  public var options: ContainerOptions

  public init(
    name: String, image: ImageReference, ports: [PortMapping] = [], volumes: [VolumeMount] = [],
    env: [EnvVar] = [], envFile: String? = nil, command: [String] = [],
    restart: RestartPolicy = .unlessStopped,
    stopTimeout: Duration? = nil, log: LogOptions? = nil, app: String, environment: String, release: String,
    extraLabels: [String: String] = [:], initProcess: Bool? = nil,
    options: ContainerOptions = ContainerOptions()
  ) {
    self.name = name
    self.image = image
    self.ports = ports
    self.volumes = volumes
    self.env = env
    self.envFile = envFile
    self.command = command
    self.restart = restart
    self.log = log
    self.app = app
    self.environment = environment
    self.release = release
    self.extraLabels = extraLabels
    self.initProcess = initProcess
    self.options = options
    stopTimeoutSeconds = nil
    self.stopTimeout = stopTimeout
  }

  public static let appLabel = "deployctl.app"
  public static let environmentLabel = "deployctl.environment"
  public static let releaseLabel = "deployctl.release"

  /// Every label, ours first, then the extra ones sorted by key (stable command lines).
  public var labels: [(key: String, value: String)] {
    [(Self.appLabel, app), (Self.environmentLabel, environment), (Self.releaseLabel, release)]
      + extraLabels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
  }

  /// The stop timeout as a Duration; set values are rounded up to whole seconds, all Docker takes.
  public var stopTimeout: Duration? {
    get { stopTimeoutSeconds.map { .seconds($0) } }
    set {
      stopTimeoutSeconds = newValue.map { duration in
        let (seconds, attoseconds) = duration.components
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
      }
    }
  }

  /// All problems at once, like a compiler.
  public func validate() throws(DockerError) {
    var problems: [String] = []
    func check(_ body: () throws(DockerError) -> Void) {
      do throws(DockerError) {
        try body()
      } catch {
        problems.append(error.description)
      }
    }
    check { () throws(DockerError) in try NameRules.checkName(name, kind: "container name") }
    check { () throws(DockerError) in try NameRules.checkName(app, kind: "app name") }
    check { () throws(DockerError) in try NameRules.checkName(environment, kind: "environment name") }
    check { () throws(DockerError) in try NameRules.checkName(release, kind: "release id") }
    if image.digest == nil {
      problems.append("image \(image) is not pinned to a digest; resolve the tag first (repo@sha256:…)")
    }
    for port in ports { problems += port.problems() }
    var published: Set<String> = []
    for port in ports where !published.insert("\(port.hostIP ?? "")|\(port.hostPort)|\(port.proto)").inserted
    {
      problems.append("host port \(port.hostPort)/\(port.proto.rawValue) is published twice")
    }
    for volume in volumes { problems += volume.problems() }
    for variable in env {
      check { () throws(DockerError) in try NameRules.checkEnvName(variable.name) }
      if variable.value.unicodeScalars.contains("\0") {
        problems.append("environment variable \(variable.name) contains a NUL byte")
      }
    }
    if let envFile, !envFile.hasPrefix("/") || NameRules.hasControlCharacters(envFile) {
      problems.append("env file \"\(envFile)\" must be an absolute path without control characters")
    }
    if command.contains(where: { $0.unicodeScalars.contains("\0") }) {
      problems.append("the command contains a NUL byte")
    }
    if case .onFailure(let retries?) = restart, retries < 0 {
      problems.append("restart on-failure: the retry count must not be negative")
    }
    if let stopTimeoutSeconds, stopTimeoutSeconds < 0 { problems.append("stop timeout must not be negative") }
    if let log { problems += log.problems() }
    for (key, value) in extraLabels {
      if key.hasPrefix("deployctl.") {
        problems.append("label \(key): keys under deployctl. are set by deployctl")
      } else if key.isEmpty || key.contains("=") || key.unicodeScalars.contains(where: { $0.value <= 0x20 }) {
        problems.append("label key \"\(key)\" must be non-empty, without =, spaces or control characters")
      }
      if value.unicodeScalars.contains("\0") { problems.append("label \(key) contains a NUL byte") }
    }
    problems += options.problems()
    if !problems.isEmpty { throw .invalidSpec(problems) }
  }

  enum CodingKeys: String, CodingKey {
    case name, image, ports, volumes, env, command, restart, log, app, environment, release
    case envFile = "env_file"
    case stopTimeoutSeconds = "stop_timeout_seconds"
    case extraLabels = "extra_labels"
    case initProcess = "init"
    case options
    case secretNames = "secret_names"
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    name = try c.decode(String.self, forKey: .name)
    image = try c.decode(ImageReference.self, forKey: .image)
    ports = try c.decodeIfPresent([PortMapping].self, forKey: .ports) ?? []
    volumes = try c.decodeIfPresent([VolumeMount].self, forKey: .volumes) ?? []
    env = try c.decodeIfPresent([EnvVar].self, forKey: .env) ?? []
    envFile = try c.decodeIfPresent(String.self, forKey: .envFile)
    command = try c.decodeIfPresent([String].self, forKey: .command) ?? []
    restart = try c.decodeIfPresent(RestartPolicy.self, forKey: .restart) ?? .unlessStopped
    stopTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .stopTimeoutSeconds)
    log = try c.decodeIfPresent(LogOptions.self, forKey: .log)
    app = try c.decode(String.self, forKey: .app)
    environment = try c.decode(String.self, forKey: .environment)
    release = try c.decode(String.self, forKey: .release)
    extraLabels = try c.decodeIfPresent([String: String].self, forKey: .extraLabels) ?? [:]
    initProcess = try c.decodeIfPresent(Bool.self, forKey: .initProcess)
    options = try c.decodeIfPresent(ContainerOptions.self, forKey: .options) ?? ContainerOptions()
    secretNames = try c.decodeIfPresent([String].self, forKey: .secretNames) ?? []
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(name, forKey: .name)
    try c.encode(image, forKey: .image)
    try c.encode(ports, forKey: .ports)
    try c.encode(volumes, forKey: .volumes)
    try c.encode(env, forKey: .env)
    try c.encodeIfPresent(envFile, forKey: .envFile)
    try c.encode(command, forKey: .command)
    try c.encode(restart, forKey: .restart)
    try c.encodeIfPresent(stopTimeoutSeconds, forKey: .stopTimeoutSeconds)
    try c.encodeIfPresent(log, forKey: .log)
    try c.encode(app, forKey: .app)
    try c.encode(environment, forKey: .environment)
    try c.encode(release, forKey: .release)
    try c.encode(extraLabels, forKey: .extraLabels)
    try c.encodeIfPresent(initProcess, forKey: .initProcess)
    if !options.isEmpty { try c.encode(options, forKey: .options) }
    if !secretNames.isEmpty { try c.encode(secretNames, forKey: .secretNames) }
  }
}

public enum PortProtocol: String, Sendable, Codable, CaseIterable {
  case tcp, udp, sctp
}

/// `-p [hostIP:]hostPort:containerPort[/proto]`.
public struct PortMapping: Sendable, Equatable, Hashable, Codable {
  /// Bind address on the host; nil: all addresses.
  public var hostIP: String?
  public var hostPort: Int
  public var containerPort: Int
  public var proto: PortProtocol

  public init(hostIP: String? = nil, hostPort: Int, containerPort: Int, proto: PortProtocol = .tcp) {
    self.hostIP = hostIP
    self.hostPort = hostPort
    self.containerPort = containerPort
    self.proto = proto
  }

  /// The `-p` value. An IPv6 bind address is bracketed (`[::1]:8080:80`).
  public var argument: String {
    var text = ""
    if let hostIP { text += (hostIP.contains(":") ? "[\(hostIP)]" : hostIP) + ":" }
    text += "\(hostPort):\(containerPort)"
    if proto != .tcp { text += "/\(proto.rawValue)" }
    return text
  }

  func problems() -> [String] {
    var problems: [String] = []
    for (what, port) in [("host", hostPort), ("container", containerPort)] where !(1...65535).contains(port) {
      problems.append("\(what) port \(port) is not between 1 and 65535")
    }
    if let hostIP, !isIPAddress(hostIP) {
      problems.append("port \(hostPort): bind address \"\(hostIP)\" is not an IPv4 or IPv6 address")
    }
    return problems
  }

  enum CodingKeys: String, CodingKey {
    case hostIP = "host_ip"
    case hostPort = "host_port"
    case containerPort = "container_port"
    case proto = "protocol"
  }
}

/// `-v source:target[:ro]`. A source starting with `/` is a host path (bind mount); anything
/// else is a named volume. Volume data is never deleted by any command we build.
public struct VolumeMount: Sendable, Equatable, Hashable, Codable {
  public var source: String
  public var target: String
  public var readOnly: Bool

  public init(source: String, target: String, readOnly: Bool = false) {
    self.source = source
    self.target = target
    self.readOnly = readOnly
  }

  public var isBindMount: Bool { source.hasPrefix("/") }

  public var argument: String { "\(source):\(target)" + (readOnly ? ":ro" : "") }

  func problems() -> [String] {
    var problems: [String] = []
    // `-v` splits on ':'; a ':' in either path would silently mean something else.
    for (what, path) in [("source", source), ("target", target)]
    where path.contains(":") || path.contains(",") || NameRules.hasControlCharacters(path) {
      problems.append("volume \(what) \"\(path)\" must not contain ':', ',' or control characters")
    }
    if !target.hasPrefix("/") { problems.append("volume target \"\(target)\" must be an absolute path") }
    if !isBindMount {
      do throws(DockerError) {
        try NameRules.checkName(source, kind: "volume name")
      } catch {
        problems.append("\(error.description) (a host path must start with /)")
      }
    }
    return problems
  }

  enum CodingKeys: String, CodingKey {
    case source, target
    case readOnly = "read_only"
  }
}

/// One non-secret environment variable.
public struct EnvVar: Sendable, Equatable, Hashable, Codable {
  public var name: String
  public var value: String

  public init(_ name: String, _ value: String) {
    self.name = name
    self.value = value
  }
}

/// `--restart`.
public enum RestartPolicy: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
  case no
  case always
  case unlessStopped
  case onFailure(maxRetries: Int?)

  /// Parses Docker's spelling: `no`, `always`, `unless-stopped`, `on-failure[:N]`.
  public init?(_ text: String) {
    switch text {
    case "no": self = .no
    case "always": self = .always
    case "unless-stopped": self = .unlessStopped
    case "on-failure": self = .onFailure(maxRetries: nil)
    default:
      guard text.hasPrefix("on-failure:"), let retries = Int(text.dropFirst("on-failure:".count)),
        retries >= 0
      else { return nil }
      self = .onFailure(maxRetries: retries)
    }
  }

  /// Docker's spelling, the `--restart` value.
  public var description: String {
    switch self {
    case .no: return "no"
    case .always: return "always"
    case .unlessStopped: return "unless-stopped"
    case .onFailure(nil): return "on-failure"
    case .onFailure(let retries?): return "on-failure:\(retries)"
    }
  }

  public init(from decoder: Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let policy = RestartPolicy(text) else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "unknown restart policy \"\(text)\""))
    }
    self = policy
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}

/// json-file log rotation: `--log-opt max-size=10m --log-opt max-file=3`.
public struct LogOptions: Sendable, Equatable, Hashable, Codable {
  /// Docker's size syntax: a number with an optional k, m or g (`10m`).
  public var maxSize: String
  public var maxFiles: Int

  public init(maxSize: String, maxFiles: Int) {
    self.maxSize = maxSize
    self.maxFiles = maxFiles
  }

  func problems() -> [String] {
    var problems: [String] = []
    let digits = maxSize.last.map { "kmgKMG".contains($0) } == true ? maxSize.dropLast() : Substring(maxSize)
    if !digits.allSatisfy(\.isASCII) || (Int(digits) ?? 0) <= 0 {
      problems.append(
        "log max_size \"\(maxSize)\" must be a positive number with an optional k, m or g (10m)")
    }
    if maxFiles < 1 { problems.append("log max_files must be at least 1, got \(maxFiles)") }
    return problems
  }

  enum CodingKeys: String, CodingKey {
    case maxSize = "max_size"
    case maxFiles = "max_files"
  }
}

private func isIPAddress(_ text: String) -> Bool {
  var v4 = in_addr()
  var v6 = in6_addr()
  return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
}
