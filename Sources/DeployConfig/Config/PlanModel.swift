/// The deploy plan for one app on one host of one environment: the playbook with the
/// environment's `environments:` override merged in and every `${…}` substituted.
public struct ResolvedPlan: Sendable {
  public var app: String
  public var environment: String
  public var host: Host
  /// Repository only; the tag or digest comes with each deploy.
  public var image: ImageRepository
  public var container: ContainerSpec
  /// nil: no check; a host counts as healthy once its container runs.
  public var health: HealthSpec?
  public var rollout: RolloutPolicy
  public var rollback: RollbackPolicy
  /// nil: no verification after the rollout.
  public var verify: VerifySpec? = nil
  /// Commands run on deployctl's machine around the run.
  public var hooks = HooksSpec()
  /// Sent when deploy, promote or rollback ends.
  public var notify: [NotifyTarget] = []
  /// `registry:`: credentials for pulls from a private registry.
  public var registry: RegistrySpec? = nil
  /// `proxy:`: the app is routed by the host's proxy and deploys are blue-green; nil: it
  /// publishes its own ports and a deploy replaces the container.
  public var proxy: ProxySpec? = nil
  /// `roles:`: the roles this host runs (empty: the plan is one role, `web`, whose container is
  /// `container`).
  public var roles: [RolePlan] = []
  /// `release_command:`: run once per deploy before any container changes.
  public var releaseCommand: ReleaseCommandSpec? = nil
  /// The playbook file as messages show it.
  public var file: String
  /// Where each value came from (`container.ports[0]`, `health.http.port`); values from an
  /// `environments:` override point at the override.
  public var sourceMap: SourceMap
}

/// What `docker run` gets.
public struct ContainerSpec: Sendable, Hashable {
  /// Default: the app's name.
  public var name: String
  public var ports: [PortMapping]
  public var volumes: [VolumeMount]
  /// In file order.
  public var env: [EnvVar]
  /// Names of variables whose values are read from deployctl's own environment at deploy time
  /// and reach the container through a 0600 env file, never a command line.
  public var secrets: [String]
  /// nil: the image's own command.
  public var command: [String]?
  /// Default `unless-stopped`.
  public var restart: RestartPolicy
  /// Default 10s (`docker stop --time`).
  public var stopTimeout: Duration
  /// json-file rotation. Default `max_size: 10m`, `max_files: 3`.
  public var log: LogOptions
  /// Network, limits, user, capabilities, … (`ContainerOptions`). Default: none.
  public var options = ContainerOptions()
  /// Labels besides deployctl's own (`deployctl.*` is refused). Default: none.
  public var labels: [String: String] = [:]

  public init(
    name: String, ports: [PortMapping] = [], volumes: [VolumeMount] = [], env: [EnvVar] = [],
    secrets: [String] = [], command: [String]? = nil, restart: RestartPolicy = .unlessStopped,
    stopTimeout: Duration = .seconds(10), log: LogOptions = LogOptions(maxSize: "10m", maxFiles: 3)
  ) {
    self.name = name
    self.ports = ports
    self.volumes = volumes
    self.env = env
    self.secrets = secrets
    self.command = command
    self.restart = restart
    self.stopTimeout = stopTimeout
    self.log = log
  }

  /// The secrets not set in `environment` (deployctl's own), which a deploy must refuse.
  public func missingSecrets(in environment: [String: String]) -> [String] {
    secrets.filter { environment[$0] == nil }
  }
}

public struct HealthSpec: Sendable, Hashable {
  public enum Probe: Sendable, Hashable {
    /// An HTTP GET on a port of the host.
    case http(HTTPHealthSpec)
    /// The image's own HEALTHCHECK, as `docker inspect` reports it.
    case docker
    /// A command run in the container (`docker exec`); exit 0 is healthy.
    case cmd([String])
    /// The container has been up this long with no restart.
    case running(Duration)
  }

  /// Where an HTTP check runs from.
  public enum Via: String, Sendable, Hashable {
    /// Through the host's SSH connection, to 127.0.0.1:port on the host.
    case ssh
    /// From the machine running deployctl to address:port.
    case direct
  }

  public var probe: Probe
  /// Default `ssh`.
  public var via: Via
  /// Default 2s.
  public var interval: Duration
  /// Default 2s.
  public var timeout: Duration
  /// Consecutive failures before the host is unhealthy. Default 15.
  public var retries: Int
  /// Failures during this time after start do not count. Default 5s.
  public var startPeriod: Duration

  public init(
    probe: Probe, via: Via = .ssh, interval: Duration = .seconds(2), timeout: Duration = .seconds(2),
    retries: Int = 15, startPeriod: Duration = .seconds(5)
  ) {
    self.probe = probe
    self.via = via
    self.interval = interval
    self.timeout = timeout
    self.retries = retries
    self.startPeriod = startPeriod
  }
}

public struct HTTPHealthSpec: Sendable, Hashable {
  /// The port on the host (a published port); with `proxy:`, the port in the container.
  public var port: Int
  /// Default `/`.
  public var path: String
  /// The status that counts as healthy. Default 200.
  public var expectStatus: Int
  /// Text the response body must contain, if set.
  public var bodyContains: String?

  public init(port: Int, path: String = "/", expectStatus: Int = 200, bodyContains: String? = nil) {
    self.port = port
    self.path = path
    self.expectStatus = expectStatus
    self.bodyContains = bodyContains
  }
}

public struct RolloutPolicy: Sendable, Hashable {
  /// Default 1 host at a time.
  public var batch: BatchPolicy
  /// Host failures tolerated before the rollout stops (and rolls back). Default 0.
  public var maxFailures: Int
  /// Whether a host's (or a Swarm task's) new container starts before the old one stops.
  /// Default `stop-first`.
  public var order: Order

  public enum Order: String, Sendable, Hashable {
    case stopFirst = "stop-first"
    case startFirst = "start-first"
  }

  public init(batch: BatchPolicy = .oneAtATime, maxFailures: Int = 0, order: Order = .stopFirst) {
    self.batch = batch
    self.maxFailures = maxFailures
    self.order = order
  }
}

public struct RollbackPolicy: Sendable, Hashable {
  /// Default true.
  public var auto: Bool
  /// Releases kept on each host for `rollback --to`. Default 5.
  public var keep: Int

  public init(auto: Bool = true, keep: Int = 5) {
    self.auto = auto
    self.keep = keep
  }
}

/// One environment's plan: what is the same on every host, and each host's own plan.
public struct EnvironmentPlan: Sendable {
  public var app: String
  public var environment: String
  public var image: ImageRepository
  public var rollout: RolloutPolicy
  public var rollback: RollbackPolicy
  /// `hooks:` and `notify:` are the same on every host (only `${environment}` is substituted).
  public var hooks = HooksSpec()
  public var notify: [NotifyTarget] = []
  /// `registry:`: credentials for pulls from a private registry.
  public var registry: RegistrySpec? = nil
  /// `release_command:`: run once per deploy, on the first host that changes.
  public var releaseCommand: ReleaseCommandSpec? = nil
  /// In inventory order.
  public var hosts: [ResolvedPlan]
  /// The lease of the environment's lock (inventory `lock.ttl`).
  public var lockTTL: Duration = Inventory.defaultLockTTL
  /// The inventory's `engine:`; with `swarm`, `hosts` holds the manager's plan alone.
  public var engine: Inventory.Engine = .hosts

  public func host(named name: String) -> ResolvedPlan? {
    hosts.first { $0.host.name == name }
  }
}
