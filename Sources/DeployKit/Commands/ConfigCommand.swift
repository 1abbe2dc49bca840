import DeployConfig
import DeployEngine
import Foundation

/// `deployctl config ENV`: the plan as each host of ENV gets it, like `kamal config`: the
/// `environments:` override merged, `${…}` substituted, defaults filled in. Secrets appear
/// by name only, with whether deployctl's environment holds a value; never the value.
public struct ConfigCommand: EnvironmentCommand {
  public static let name = "config"
  public var environment: String
  public var selection: ProjectSelection

  public init(environment: String, selection: ProjectSelection) {
    self.environment = environment
    self.selection = selection
  }

  public func run(_ plan: EnvironmentPlan, on console: CommandConsole) -> CommandExit {
    // Should a secret's value also be written somewhere in the plan, it is masked all the same.
    let values = Array(selection.secrets(for: plan).values)
    return console.finish(ResolvedConfig(plan, environment: selection.environment), secrets: values)
  }
}

/// The JSON document of `deployctl config`.
public struct ResolvedConfig: Codable, Sendable, Equatable {
  public var command = "config"
  public var environment: String
  public var app: String
  public var result = CommandResult.success
  public var exitCode: Int32 = 0
  public var image: String
  public var rollout: Rollout
  public var rollback: Rollback
  /// `registry:`: where pulls log in; the password (and a secret user name) by name only.
  @OmittedWhenNil public var registry: Registry?
  public var hosts: [HostConfig]

  public struct Registry: Codable, Sendable, Equatable {
    public var server: String
    /// The user name, or nil when it comes from a secret (`usernameSecret`).
    @OmittedWhenNil public var username: String?
    @OmittedWhenNil public var usernameSecret: Secret?
    public var passwordSecret: Secret

    enum CodingKeys: String, CodingKey {
      case server, username
      case usernameSecret = "username_secret"
      case passwordSecret = "password_secret"
    }
  }

  public struct Rollout: Codable, Sendable, Equatable {
    public var batch: String
    public var maxFailures: Int

    enum CodingKeys: String, CodingKey {
      case batch
      case maxFailures = "max_failures"
    }
  }

  public struct Rollback: Codable, Sendable, Equatable {
    public var auto: Bool
    public var keep: Int
  }

  public struct Secret: Codable, Sendable, Equatable {
    public var name: String
    /// Whether deployctl's environment holds a value for it now (the value is never shown).
    public var set: Bool
  }

  public struct Container: Codable, Sendable, Equatable {
    public var name: String
    public var ports: [String]
    public var volumes: [String]
    public var env: [String: String]
    public var secrets: [Secret]
    /// nil: the image's own command.
    public var command: [String]?
    public var restart: String
    public var stopTimeout: String
    public var log: [String: String]
    /// The container options (`network`, `memory`, `user`, …) as the `docker run` words they become.
    public var options: [String] = []

    enum CodingKeys: String, CodingKey {
      case name, ports, volumes, env, secrets, command, restart, log, options
      case stopTimeout = "stop_timeout"
    }
  }

  public struct Health: Codable, Sendable, Equatable {
    /// `http://HOST:PORT/PATH` as probed, or `docker` (the image's own HEALTHCHECK).
    public var check: String
    @OmittedWhenNil public var expect: Int?
    @OmittedWhenNil public var contains: String?
    public var via: String
    public var interval: String
    public var timeout: String
    public var retries: Int
    public var startPeriod: String

    enum CodingKeys: String, CodingKey {
      case check, expect, contains, via, interval, timeout, retries
      case startPeriod = "start_period"
    }
  }

  public struct HostConfig: Codable, Sendable, Equatable {
    public var name: String
    public var address: String
    public var port: Int
    public var user: String
    public var jump: String?
    public var vars: [String: String]
    public var container: Container
    /// nil: no health check, a host is healthy once its container runs.
    public var health: Health?
    /// A plan with `roles:`: each role this host runs (the first one's are `container` and
    /// `health` above).
    @OmittedWhenNil public var roles: [RoleConfig]? = nil
  }

  public struct RoleConfig: Codable, Sendable, Equatable {
    public var name: String
    public var container: Container
    public var health: Health?
  }

  enum CodingKeys: String, CodingKey {
    case command, environment, app, result, image, rollout, rollback, registry, hosts
    case exitCode = "exit_code"
  }

  public init(_ plan: EnvironmentPlan, environment values: [String: String]) {
    environment = plan.environment
    app = plan.app
    image = plan.image.description
    rollout = Rollout(batch: plan.rollout.batch.description, maxFailures: plan.rollout.maxFailures)
    rollback = Rollback(auto: plan.rollback.auto, keep: plan.rollback.keep)
    registry = plan.registry.map { spec in
      var registry = Registry(
        server: spec.server ?? plan.image.registry ?? "docker.io", username: nil, usernameSecret: nil,
        passwordSecret: Secret(name: spec.passwordSecret, set: values[spec.passwordSecret] != nil))
      switch spec.username {
      case .literal(let name): registry.username = name
      case .secret(let name): registry.usernameSecret = Secret(name: name, set: values[name] != nil)
      }
      return registry
    }
    hosts = plan.hosts.map { resolved in
      let roles = resolved.rolePlans
      let first = roles.first?.plan ?? resolved
      let host = resolved.host
      var config = HostConfig(
        name: host.name, address: host.address, port: host.port, user: host.user,
        jump: host.jump?.description,
        vars: host.vars, container: Self.container(first.container, values),
        health: Self.health(first))
      if !resolved.roles.isEmpty {
        config.roles = roles.map {
          RoleConfig(
            name: $0.role, container: Self.container($0.plan.container, values), health: Self.health($0.plan))
        }
      }
      return config
    }
  }

  static func container(_ spec: ContainerSpec, _ values: [String: String]) -> Container {
    Container(
      name: spec.name, ports: spec.ports.map(\.argument), volumes: spec.volumes.map(\.argument),
      env: Dictionary(spec.env.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last }),
      secrets: spec.secrets.map { Secret(name: $0, set: values[$0] != nil) }, command: spec.command,
      restart: spec.restart.description, stopTimeout: Self.format(spec.stopTimeout),
      log: ["max_size": spec.log.maxSize, "max_files": String(spec.log.maxFiles)],
      options: spec.options.arguments)
  }

  static func health(_ resolved: ResolvedPlan) -> Health? {
    resolved.health.map { health in
      var check = "docker"
      var expect: Int?
      var contains: String?
      switch health.probe {
      case .http(let http):
        let host = health.via == .ssh ? "127.0.0.1" : resolved.host.address
        check = http.url(host: host)
        expect = http.expectStatus
        contains = http.bodyContains
      case .cmd(let argv): check = "cmd: " + ShellQuote.join(argv)
      case .running(let up): check = "running: " + up.configText
      case .docker: break
      }
      return Health(
        check: check, expect: expect, contains: contains, via: health.via.rawValue,
        interval: Self.format(health.interval), timeout: Self.format(health.timeout),
        retries: health.retries,
        startPeriod: Self.format(health.startPeriod))
    }
  }

  /// `10s`, `1m30s`, `500ms`: the way the plan writes durations.
  static func format(_ duration: Duration) -> String {
    var ms = duration.milliseconds
    if ms == 0 { return "0" }
    var text = ""
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] where ms >= size {
      text += "\(ms / size)\(unit)"
      ms %= size
    }
    return text
  }
}

extension ResolvedConfig: CommandOutcome {
  /// A YAML-like page per host, on stdout.
  public func printSummary(on console: CommandConsole, masker: SecretMasker) {
    guard console.format == .text else { return }
    var lines = [
      "# \(app) in \(environment): the plan each host gets (overrides merged, variables substituted)",
      "app: \(app)", "environment: \(environment)", "image: \(image)",
      "rollout: {batch: \(rollout.batch), max_failures: \(rollout.maxFailures)}",
      "rollback: {auto: \(rollback.auto), keep: \(rollback.keep)}",
    ]
    func secret(_ secret: Secret) -> String {
      "\(secret.name) (\(secret.set ? "set" : "not set in this environment"))"
    }
    if let registry {
      lines.append(
        "registry: {server: \(registry.server), "
          + (registry.username.map { "username: \($0)" } ?? registry.usernameSecret.map {
            "username_secret: \(secret($0))"
          } ?? "")
          + ", password_secret: \(secret(registry.passwordSecret))}")
    }
    lines.append("hosts:")
    func list(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }
    for host in hosts {
      let c = host.container
      lines += [
        "  \(host.name):",
        "    ssh: \(host.user)@\(host.address):\(host.port)" + (host.jump.map { " via \($0)" } ?? ""),
      ]
      if !host.vars.isEmpty {
        lines.append(
          "    vars: {"
            + host.vars.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            + "}")
      }
      lines += [
        "    container:", "      name: \(c.name)", "      ports: \(list(c.ports))",
        "      volumes: \(list(c.volumes))",
      ]
      lines.append(c.env.isEmpty ? "      env: {}" : "      env:")
      for (name, value) in c.env.sorted(by: { $0.key < $1.key }) { lines.append("        \(name): \(value)") }
      lines.append(
        "      secrets: "
          + list(c.secrets.map { "\($0.name) (\($0.set ? "set" : "not set in this environment"))" }))
      lines += [
        "      command: " + (c.command.map { list($0) } ?? "(the image's)"), "      restart: \(c.restart)",
        "      stop_timeout: \(c.stopTimeout)",
        "      log: {max_size: \(c.log["max_size"] ?? ""), max_files: \(c.log["max_files"] ?? "")}",
      ]
      if !c.options.isEmpty { lines.append("      options: " + ShellQuote.join(c.options)) }
      if let h = host.health {
        var check = h.check
        if let expect = h.expect { check += " expect \(expect)" }
        if let contains = h.contains { check += " containing \"\(contains)\"" }
        lines += [
          "    health: \(check) via \(h.via)",
          "      interval: \(h.interval), timeout: \(h.timeout), retries: \(h.retries), start_period: \(h.startPeriod)",
        ]
      } else {
        lines.append("    health: none (healthy once the container runs)")
      }
      for role in host.roles ?? [] {
        lines.append(
          "    role \(role.name): container \(role.container.name), command "
            + (role.container.command.map { list($0) } ?? "(the image's)")
            + ", health " + (role.health.map { "\($0.check) via \($0.via)" } ?? "none"))
      }
    }
    console.standardOutput.line(masker.mask(lines.joined(separator: "\n")))
  }
}
