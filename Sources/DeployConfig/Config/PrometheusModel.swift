/// A URL a plan names either in the file (`url:`) or by the name of a secret in deployctl's
/// environment (`url_secret:`), for a URL that carries credentials.
public enum EndpointURL: Sendable, Hashable {
  case literal(String)
  case secret(String)

  /// The secret's name, nil for a URL written in the file.
  public var secretName: String? {
    if case .secret(let name) = self { return name }
    return nil
  }

  /// The URL, from `environment` when it is a secret; nil when that secret is not set.
  public func value(in environment: [String: String]) -> String? {
    switch self {
    case .literal(let url): url
    case .secret(let name): environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }
  }
}

/// `verify.prometheus`: queries against Prometheus during a bake window after the smoke checks
/// and the load test, once per environment (docs/configuration.md "Prometheus analysis").
public struct PrometheusSpec: Sendable, Hashable {
  public var url: EndpointURL
  /// `direct`: from deployctl's machine; `ssh`: through a port forward on the first host's SSH
  /// connection, for a Prometheus only the hosts can see. Default `direct`.
  public var via: HealthSpec.Via
  /// Every query runs once per interval. Default 30s.
  public var interval: Duration
  /// The bake window; `duration / interval` measurements per query. Default 5m.
  public var duration: Duration
  public var queries: [PrometheusQuerySpec]

  public init(
    url: EndpointURL, via: HealthSpec.Via = .direct, interval: Duration = .seconds(30),
    duration: Duration = .seconds(300), queries: [PrometheusQuerySpec] = []
  ) {
    self.url = url
    self.via = via
    self.interval = interval
    self.duration = duration
    self.queries = queries
  }

  /// Measurements per query in the window: one at the end of each whole interval.
  public var rounds: Int { max(1, Int(duration / interval)) }
}

/// One `verify.prometheus.queries` entry.
public struct PrometheusQuerySpec: Sendable, Hashable {
  public var name: String
  /// PromQL, with `${app}`, `${environment}` and `${release}` filled in when it runs.
  public var query: String
  /// A value above this fails the measurement.
  public var max: Double?
  /// A value below this fails the measurement.
  public var min: Double?
  /// Failed measurements tolerated; one more fails the verification. Default 0.
  public var failureLimit: Int

  public init(name: String, query: String, max: Double? = nil, min: Double? = nil, failureLimit: Int = 0) {
    self.name = name
    self.query = query
    self.max = max
    self.min = min
    self.failureLimit = failureLimit
  }
}
