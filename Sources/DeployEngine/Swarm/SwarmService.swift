import DeployConfig
import DeployTransport
import Foundation

/// How a release's `ContainerRunSpec` becomes a Docker Swarm service (`engine: swarm`): the
/// `docker service create` and `docker service update` words, and what the plan may not ask of
/// Swarm. The image is always `repo@sha256:…` with `--no-resolve-image`: Swarm never resolves a
/// tag again. Secrets are Docker secrets (one per release and name), mounted at
/// `/run/secrets/NAME`, with `NAME_FILE` in the environment pointing there: no value is ever in
/// the service's spec.
extension SwarmService {
  /// What the rollout policy and the inventory give the service besides the container.
  public struct Policy: Sendable, Equatable {
    public var replicas: Int
    public var publish: SwarmSettings.PublishMode
    /// Tasks updated at once (the plan's batch size, of the replicas).
    public var parallelism: Int
    public var order: RolloutPolicy.Order
    /// How long Swarm watches a new task for failure before it counts as updated: the plan's
    /// health check span.
    public var monitor: Duration
    /// Failed tasks tolerated during the update, as a share of the replicas (`max_failures`).
    public var maxFailureRatio: Double
    /// Credentials reach the nodes with the service (`--with-registry-auth`).
    public var registryAuth: Bool

    public init(
      replicas: Int, publish: SwarmSettings.PublishMode = .ingress, parallelism: Int = 1,
      order: RolloutPolicy.Order = .stopFirst, monitor: Duration = .seconds(5), maxFailureRatio: Double = 0,
      registryAuth: Bool = false
    ) {
      self.replicas = replicas
      self.publish = publish
      self.parallelism = parallelism
      self.order = order
      self.monitor = monitor
      self.maxFailureRatio = maxFailureRatio
      self.registryAuth = registryAuth
    }

    /// The policy for `plan` (one environment's, with `engine: swarm`).
    public init(plan: EnvironmentPlan, settings: SwarmSettings, registryAuth: Bool) {
      let first = plan.rollout.batch.batches(hostCount: settings.replicas).first ?? 1
      var monitor = Duration.seconds(5)
      if let health = plan.hosts.first?.health {
        monitor = health.startPeriod + health.interval * health.retries
      }
      self.init(
        replicas: settings.replicas, publish: settings.publish, parallelism: max(1, first),
        order: plan.rollout.order, monitor: monitor,
        maxFailureRatio: min(1, Double(plan.rollout.maxFailures) / Double(max(1, settings.replicas))),
        registryAuth: registryAuth)
    }
  }

  /// `docker service inspect NAME`, read with `ServiceState.parse(_:)`.
  public static func inspect(_ service: String) -> RemoteCommand {
    RemoteCommand(["docker", "service", "inspect", service])
  }

  /// The Docker secret that holds secret `name` of `release`.
  public static func secretName(_ spec: ContainerRunSpec, _ name: String) -> String {
    "\(spec.app)-\(spec.environment)-\(spec.release)-\(name)"
  }

  /// Where the app finds secret `name`.
  public static func secretPath(_ name: String) -> String { "/run/secrets/\(name)" }

  // MARK: create and update

  /// `docker service create …` (without `docker`).
  public static func createArguments(_ spec: ContainerRunSpec, _ policy: Policy) -> [String] {
    var argv = ["service", "create", "--detach", "--quiet", "--name", spec.name]
    argv += settings(spec, policy)
    for label in spec.labels { argv += ["--label", "\(label.key)=\(label.value)"] }
    for label in spec.labels { argv += ["--container-label", "\(label.key)=\(label.value)"] }
    for port in spec.ports { argv += ["--publish", portArgument(port, policy.publish)] }
    for mount in mounts(spec) { argv += ["--mount", mount] }
    for variable in environment(spec) { argv += ["--env", variable] }
    for secret in spec.secretNames {
      argv += ["--secret", "source=\(secretName(spec, secret)),target=\(secret),mode=0400"]
    }
    if let network = spec.options.network { argv += ["--network", networkArgument(network, spec.options)] }
    for entry in spec.options.addHosts { argv += ["--host", entry] }
    for capability in spec.options.capAdd { argv += ["--cap-add", capability] }
    for capability in spec.options.capDrop { argv += ["--cap-drop", capability] }
    for limit in spec.options.ulimits { argv += ["--ulimit", limit.argument] }
    if let entrypoint = spec.options.entrypoint, !entrypoint.isEmpty {
      argv += ["--entrypoint", ShellQuote.join(entrypoint)]
    }
    if let hostname = spec.options.hostname { argv += ["--hostname", hostname] }
    if let user = spec.options.user { argv += ["--user", user] }
    if let workdir = spec.options.workdir { argv += ["--workdir", workdir] }
    if spec.options.readOnly { argv.append("--read-only") }
    if spec.initProcess == true { argv.append("--init") }
    argv.append(spec.image.pinned ?? spec.image.description)
    return argv + spec.command
  }

  /// `docker service update …` (without `docker`) that makes the service `current` describes
  /// into `spec`: every list deployctl sets is emptied and set again, every single value set or
  /// reset, so nothing of an older release (or a hand edit) stays behind.
  public static func updateArguments(_ spec: ContainerRunSpec, _ policy: Policy, current: ServiceState)
    -> [String]
  {
    var argv = ["service", "update", "--detach", "--quiet"]
    argv += settings(spec, policy)
    // The CLI applies removals after additions, so only what `spec` does not set again is
    // removed (an addition replaces an entry with the same key).
    let labelKeys = Set(spec.labels.map(\.key))
    for key in current.labels.keys.sorted() where !labelKeys.contains(key) { argv += ["--label-rm", key] }
    for key in current.containerLabels.keys.sorted() where !labelKeys.contains(key) {
      argv += ["--container-label-rm", key]
    }
    for label in spec.labels { argv += ["--label-add", "\(label.key)=\(label.value)"] }
    for label in spec.labels { argv += ["--container-label-add", "\(label.key)=\(label.value)"] }
    let ports = spec.ports.map { portArgument($0, policy.publish) }
    for port in current.ports where !ports.contains(port) { argv += ["--publish-rm", port] }
    for port in ports where !current.ports.contains(port) { argv += ["--publish-add", port] }
    let targets = Set(spec.volumes.map(\.target) + spec.options.tmpfs.map(tmpfsTarget))
    for target in current.mountTargets where !targets.contains(target) { argv += ["--mount-rm", target] }
    for mount in mounts(spec) { argv += ["--mount-add", mount] }
    let variables = environment(spec)
    let names = Set(variables.map { String($0.split(separator: "=", maxSplits: 1)[0]) })
    for name in current.envNames where !names.contains(name) { argv += ["--env-rm", name] }
    for variable in variables { argv += ["--env-add", variable] }
    let secrets = spec.secretNames.map { secretName(spec, $0) }
    for secret in current.secrets where !secrets.contains(secret) { argv += ["--secret-rm", secret] }
    for secret in spec.secretNames where !current.secrets.contains(secretName(spec, secret)) {
      argv += ["--secret-add", "source=\(secretName(spec, secret)),target=\(secret),mode=0400"]
    }
    if let network = spec.options.network {
      // Swarm lists networks by id: one already attached stays as it is.
      if current.networks.isEmpty { argv += ["--network-add", networkArgument(network, spec.options)] }
    } else {
      for network in current.networks { argv += ["--network-rm", network] }
    }
    for entry in current.hosts where !spec.options.addHosts.contains(entry) { argv += ["--host-rm", entry] }
    for entry in spec.options.addHosts where !current.hosts.contains(entry) { argv += ["--host-add", entry] }
    for capability in spec.options.capAdd { argv += ["--cap-add", capability] }
    for capability in spec.options.capDrop { argv += ["--cap-drop", capability] }
    let limits = Set(spec.options.ulimits.map(\.name))
    for name in current.ulimits where !limits.contains(name) { argv += ["--ulimit-rm", name] }
    for limit in spec.options.ulimits { argv += ["--ulimit-add", limit.argument] }
    argv += ["--entrypoint", spec.options.entrypoint.map { ShellQuote.join($0) } ?? ""]
    argv += ["--args", ShellQuote.join(spec.command)]
    argv += ["--hostname", spec.options.hostname ?? ""]
    argv += ["--user", spec.options.user ?? ""]
    argv += ["--workdir", spec.options.workdir ?? ""]
    argv.append("--read-only=\(spec.options.readOnly)")
    argv.append("--init=\(spec.initProcess == true)")
    argv += ["--image", spec.image.pinned ?? spec.image.description, spec.name]
    return argv
  }

  /// What create and update share: replicas, the update and rollback policy, restart, stop,
  /// logs, limits.
  private static func settings(_ spec: ContainerRunSpec, _ policy: Policy) -> [String] {
    let order = policy.order.rawValue
    var argv = [
      "--replicas", String(policy.replicas), "--no-resolve-image",
      "--update-parallelism", String(policy.parallelism), "--update-order", order,
      "--update-failure-action", "rollback", "--update-monitor", seconds(policy.monitor),
      "--update-max-failure-ratio", ContainerOptions.decimal(policy.maxFailureRatio),
      "--rollback-parallelism", String(policy.parallelism), "--rollback-order", order,
      "--rollback-monitor", seconds(policy.monitor),
    ]
    if policy.registryAuth { argv.append("--with-registry-auth") }
    switch spec.restart {
    case .no: argv += ["--restart-condition", "none"]
    case .always, .unlessStopped: argv += ["--restart-condition", "any"]
    case .onFailure(let retries):
      argv += ["--restart-condition", "on-failure"]
      if let retries { argv += ["--restart-max-attempts", String(retries)] }
    }
    if let stop = spec.stopTimeoutSeconds { argv += ["--stop-grace-period", "\(stop)s"] }
    if let log = spec.log {
      argv += [
        "--log-driver", "json-file", "--log-opt", "max-size=\(log.maxSize)", "--log-opt",
        "max-file=\(log.maxFiles)",
      ]
    }
    if let memory = spec.options.memory { argv += ["--limit-memory", memory] }
    if let cpus = spec.options.cpus { argv += ["--limit-cpu", ContainerOptions.decimal(cpus)] }
    return argv
  }

  /// Whole seconds, rounded up, at least 1 (`11s`).
  private static func seconds(_ duration: Duration) -> String {
    "\(max(1, Int((duration / .seconds(1)).rounded(.up))))s"
  }

  static func portArgument(_ port: PortMapping, _ mode: SwarmSettings.PublishMode) -> String {
    "published=\(port.hostPort),target=\(port.containerPort),protocol=\(port.proto.rawValue),mode=\(mode.rawValue)"
  }

  static func networkArgument(_ network: String, _ options: ContainerOptions) -> String {
    (["name=\(network)"] + options.networkAliases.map { "alias=\($0)" }).joined(separator: ",")
  }

  /// Volumes (bind mounts and named volumes) and tmpfs mounts, as `--mount` values.
  static func mounts(_ spec: ContainerRunSpec) -> [String] {
    spec.volumes.map { volume in
      "type=\(volume.isBindMount ? "bind" : "volume"),source=\(volume.source),target=\(volume.target)"
        + (volume.readOnly ? ",readonly" : "")
    }
      + spec.options.tmpfs.map { "type=tmpfs,target=\(tmpfsTarget($0))" }
  }

  /// `/tmp` of `/tmp:size=64m`.
  static func tmpfsTarget(_ entry: String) -> String {
    entry.split(separator: ":", maxSplits: 1).first.map(String.init) ?? entry
  }

  /// The plain environment, then `NAME_FILE=/run/secrets/NAME` for each secret.
  static func environment(_ spec: ContainerRunSpec) -> [String] {
    spec.env.map { "\($0.name)=\($0.value)" } + spec.secretNames.map { "\($0)_FILE=\(secretPath($0))" }
  }

  // MARK: secrets

  /// Creates the Docker secrets of `spec`'s release that do not exist yet. Each value travels
  /// base64-encoded inside the script (the SSH channel's stdin), decoded into
  /// `docker secret create NAME -`'s stdin: never on a command line.
  public static func createSecrets(_ spec: ContainerRunSpec, values: [EnvVar]) -> RemoteCommand {
    var creates: [RemoteCommand] = []
    for name in spec.secretNames {
      guard let value = values.first(where: { $0.name == name })?.value else { continue }
      let secret = secretName(spec, name)
      let encoded = Data(value.utf8).base64EncodedString()
      let create = RemoteCommand([
        "docker", "secret", "create", "--label", "\(ContainerRunSpec.appLabel)=\(spec.app)", "--label",
        "\(ContainerRunSpec.environmentLabel)=\(spec.environment)", "--label",
        "\(ContainerRunSpec.releaseLabel)=\(spec.release)", secret, "-",
      ])
      creates.append(
        RemoteCommand(["docker", "secret", "inspect", secret]).silent.or(
          RemoteCommand(["base64", "-d"]).input(encoded).piped(to: create.quiet)))
    }
    return .all(creates)
  }

  /// Removes the Docker secrets of forgotten releases (a secret a service still uses stays:
  /// Docker refuses).
  public static func removeSecrets(app: String, environment: String, releases: [String]) -> RemoteCommand {
    let filters = releases.map { release in
      RemoteCommand([
        "docker", "secret", "ls", "--quiet", "--filter", "label=\(ContainerRunSpec.appLabel)=\(app)",
        "--filter",
        "label=\(ContainerRunSpec.environmentLabel)=\(environment)", "--filter",
        "label=\(ContainerRunSpec.releaseLabel)=\(release)",
      ])
    }
    // Docker refuses `secret rm` with no name: `xargs` runs it only when `ls` printed some (its
    // `-r` is not POSIX, so an empty list's complaint is dropped with the rest).
    return .sequence(
      filters.map { $0.piped(to: RemoteCommand(["xargs", "docker", "secret", "rm"])).silent } + [.success])
  }
}

/// What `docker service inspect` says about a service, as far as deployctl sets or reads it.
public struct ServiceState: Sendable, Equatable {
  public var id: String
  /// `repo@sha256:…` as the spec has it.
  public var image: String
  /// `deployctl.release` of the service's labels (nil: not deployed by deployctl).
  public var release: String?
  public var labels: [String: String]
  public var containerLabels: [String: String]
  /// `--publish-rm` values for the ports the spec publishes.
  public var ports: [String]
  public var mountTargets: [String]
  public var envNames: [String]
  /// Secret names (as `--secret-rm` takes them).
  public var secrets: [String]
  public var networks: [String]
  public var hosts: [String]
  public var ulimits: [String]
  public var replicas: Int?
  /// `UpdateStatus.State` (`updating`, `completed`, `rollback_completed`, `paused`, …), nil
  /// for a service never updated.
  public var updateState: String?
  public var updateMessage: String?

  /// Reads `SwarmService.inspect` run as a `RemoteScript` section.
  public static func parse(_ section: RemoteScriptOutput.Section?) throws -> ServiceState? {
    try parse(section?.output ?? "", succeeded: section?.succeeded == true)
  }

  /// Reads `docker service inspect NAME`'s output; nil when the service does not exist.
  public static func parse(_ output: String, succeeded: Bool) throws -> ServiceState? {
    guard succeeded else {
      if output.contains("no such service") || output.contains("not found") || output.contains("No such") {
        return nil
      }
      throw DockerError.unexpectedOutput(command: "docker service inspect", detail: output)
    }
    guard let start = output.firstIndex(of: "["),
      let array = try JSONSerialization.jsonObject(with: Data(output[start...].utf8)) as? [[String: Any]],
      let service = array.first
    else {
      throw DockerError.unexpectedOutput(
        command: "docker service inspect", detail: "no service in: \(output)")
    }
    let spec = service["Spec"] as? [String: Any] ?? [:]
    let template = spec["TaskTemplate"] as? [String: Any] ?? [:]
    let container = template["ContainerSpec"] as? [String: Any] ?? [:]
    let labels = spec["Labels"] as? [String: String] ?? [:]
    let endpoint = spec["EndpointSpec"] as? [String: Any] ?? [:]
    let ports = (endpoint["Ports"] as? [[String: Any]] ?? []).map { port in
      "published=\(port["PublishedPort"] as? Int ?? 0),target=\(port["TargetPort"] as? Int ?? 0),protocol=\(port["Protocol"] as? String ?? "tcp"),mode=\(port["PublishMode"] as? String ?? "ingress")"
    }
    let mode = spec["Mode"] as? [String: Any]
    let update = service["UpdateStatus"] as? [String: Any]
    return ServiceState(
      id: service["ID"] as? String ?? "", image: container["Image"] as? String ?? "",
      release: labels[ContainerRunSpec.releaseLabel], labels: labels,
      containerLabels: container["Labels"] as? [String: String] ?? [:], ports: ports,
      mountTargets: (container["Mounts"] as? [[String: Any]] ?? []).compactMap { $0["Target"] as? String },
      envNames: (container["Env"] as? [String] ?? []).map {
        String($0.split(separator: "=", maxSplits: 1)[0])
      },
      secrets: (container["Secrets"] as? [[String: Any]] ?? []).compactMap { $0["SecretName"] as? String },
      networks: (template["Networks"] as? [[String: Any]] ?? []).compactMap { $0["Target"] as? String },
      hosts: (container["Hosts"] as? [String] ?? []).compactMap { entry in
        // Stored as "IP NAME"; `--host-rm` takes "NAME:IP".
        let words = entry.split(separator: " ")
        return words.count == 2 ? "\(words[1]):\(words[0])" : nil
      },
      ulimits: (container["Ulimits"] as? [[String: Any]] ?? []).compactMap { $0["Name"] as? String },
      replicas: (mode?["Replicated"] as? [String: Any])?["Replicas"] as? Int,
      updateState: update?["State"] as? String, updateMessage: update?["Message"] as? String)
  }

  /// The digest the spec runs.
  public var digest: String? {
    image.split(separator: "@").last.flatMap { $0.hasPrefix("sha256:") ? String($0) : nil }
  }
}
