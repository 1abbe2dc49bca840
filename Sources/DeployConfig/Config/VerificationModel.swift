/// `verify:` in a plan: checks run on every host after the last batch is healthy. A failure
/// fails the rollout.
public struct VerifySpec: Sendable, Hashable {
  /// Where the checks run from, as `health.via`. Default `ssh`.
  public var via: HealthSpec.Via
  /// Every check on every host, in file order.
  public var smoke: [SmokeCheckSpec]
  /// nil: no load test.
  public var load: LoadTestSpec?
  /// nil: no Prometheus analysis. Runs once for the environment, after every host's checks.
  public var prometheus: PrometheusSpec?

  public init(
    via: HealthSpec.Via = .ssh, smoke: [SmokeCheckSpec] = [], load: LoadTestSpec? = nil,
    prometheus: PrometheusSpec? = nil
  ) {
    self.via = via
    self.smoke = smoke
    self.load = load
    self.prometheus = prometheus
  }

  /// Whether each host has checks of its own (smoke or load), besides the environment's
  /// Prometheus analysis.
  public var checksHosts: Bool { !smoke.isEmpty || load != nil }

  /// The host ports the checks reach (for an SSH port-forward per port, `via: ssh`).
  public var ports: [Int] {
    var seen: [Int] = []
    for port in smoke.map(\.port) + (load.map { [$0.port] } ?? []) where !seen.contains(port) {
      seen.append(port)
    }
    return seen
  }
}

/// One `verify.smoke` entry: a GET that must answer `expect` (and hold `contains`), the same
/// check as `health.http`.
public typealias SmokeCheckSpec = HTTPHealthSpec

/// `verify.load`: a bounded load test against one URL of each host.
public struct LoadTestSpec: Sendable, Hashable {
  public var port: Int
  /// Default `/`.
  public var path: String
  /// Exactly this many requests are sent. Default 1000.
  public var requests: Int
  /// Requests in flight at once. Default 10.
  public var concurrency: Int
  /// Highest share of failed requests (transport errors, statuses other than 2xx/3xx) that
  /// still passes, 0...1. Default 0.01 (1%).
  public var maxErrorRate: Double
  /// The 95th percentile latency must be below this; nil: not judged.
  public var p95: Duration?
  /// One request's limit; a request past it counts as an error. Default 10s.
  public var requestTimeout: Duration

  public init(
    port: Int, path: String = "/", requests: Int = 1000, concurrency: Int = 10, maxErrorRate: Double = 0.01,
    p95: Duration? = nil, requestTimeout: Duration = .seconds(10)
  ) {
    self.port = port
    self.path = path
    self.requests = requests
    self.concurrency = concurrency
    self.maxErrorRate = maxErrorRate
    self.p95 = p95
    self.requestTimeout = requestTimeout
  }
}

/// `hooks:` in a plan: commands run on deployctl's machine, as argv lists (no shell).
public struct HooksSpec: Sendable, Hashable {
  public enum Stage: String, Sendable, Hashable, Codable, CaseIterable {
    /// Before any host changes; non-zero refuses the run (exit 2).
    case preDeploy = "pre_deploy"
    /// After success; non-zero is a warning.
    case postDeploy = "post_deploy"
    /// After a run that ends 1, 3 or interrupted.
    case onFailure = "on_failure"
  }

  public var preDeploy: [String]?
  public var postDeploy: [String]?
  public var onFailure: [String]?
  /// Per hook. Default 5m.
  public var timeout: Duration

  public static let defaultTimeout = Duration.seconds(300)

  public init(
    preDeploy: [String]? = nil, postDeploy: [String]? = nil, onFailure: [String]? = nil,
    timeout: Duration = HooksSpec.defaultTimeout
  ) {
    self.preDeploy = preDeploy
    self.postDeploy = postDeploy
    self.onFailure = onFailure
    self.timeout = timeout
  }

  /// The argv of `stage`, nil when the plan has none.
  public func command(_ stage: Stage) -> [String]? {
    switch stage {
    case .preDeploy: preDeploy
    case .postDeploy: postDeploy
    case .onFailure: onFailure
    }
  }

  public var isEmpty: Bool { preDeploy == nil && postDeploy == nil && onFailure == nil }
}

/// One `notify:` entry. The URL is always a secret: only its name is in the plan.
public enum NotifyTarget: Sendable, Hashable {
  /// A Slack incoming webhook (its URL in the named secret): a readable message.
  case slack(webhookSecret: String)
  /// A POST of the command's JSON document to the URL in the named secret.
  case webhook(urlSecret: String)
  /// The run's metrics, pushed to a Prometheus Pushgateway (its URL in the file or a secret).
  case pushgateway(EndpointURL)

  /// `slack`, `webhook` or `pushgateway`, as `notifications[].name` says.
  public var kind: String {
    switch self {
    case .slack: "slack"
    case .webhook: "webhook"
    case .pushgateway: "pushgateway"
    }
  }

  /// The secret holding the URL; nil for a Pushgateway URL written in the file.
  public var secretName: String? {
    switch self {
    case .slack(let name), .webhook(let name): name
    case .pushgateway(let url): url.secretName
    }
  }
}

/// `promote_requires:` in an inventory: what FROM's live release must have passed.
public enum PromoteRequirement: String, Sendable, Hashable {
  /// Verification (`verify:`) passed on every FROM host (`verified: true` in its record).
  case verified
}
