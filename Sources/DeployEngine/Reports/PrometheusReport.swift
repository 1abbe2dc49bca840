import DeployConfig
import Foundation

/// The JSON document's `verification.prometheus`: the bake window's queries, every measurement,
/// and the verdict (docs/json.md "Verification, hooks and notifications").
public struct PrometheusVerification: Codable, Sendable, Equatable {
  /// `direct` or `ssh`.
  public var via: String
  public var passed: Bool
  public var intervalMs: Int
  /// The window as planned.
  public var windowMs: Int
  /// How long it ran: shorter when a query failed past its limit, Prometheus could not be
  /// reached, or the run was interrupted.
  public var durationMs: Int
  public var queries: [PrometheusQueryResult]
  /// Why the window ended without a verdict from the queries (Prometheus unreachable, an
  /// interruption); nil otherwise.
  public var error: String?

  public init(
    via: HealthSpec.Via, passed: Bool, intervalMs: Int, windowMs: Int, durationMs: Int = 0,
    queries: [PrometheusQueryResult], error: String? = nil
  ) {
    self.via = via.rawValue
    self.passed = passed
    self.intervalMs = intervalMs
    self.windowMs = windowMs
    self.durationMs = durationMs
    self.queries = queries
    self.error = error
  }

  enum CodingKeys: String, CodingKey {
    case via, passed, queries, error
    case intervalMs = "interval_ms"
    case windowMs = "window_ms"
    case durationMs = "duration_ms"
  }

  /// Why it failed, for the rollout's error: the query that stopped it and its value, or the
  /// window's own error.
  public var failure: String? {
    guard !passed else { return nil }
    if let error { return "prometheus: \(error)" }
    guard let failed = queries.first(where: { !$0.passed }) else { return "prometheus: failed" }
    return "prometheus: query \(failed.name) failed: \(failed.lastFailure ?? "no measurement passed")"
  }

  /// Lines for the text summary, one per query.
  public var summary: [String] {
    var lines = queries.map(\.summary)
    if let error { lines.append("prometheus: \(error)") }
    return lines
  }
}

/// One query's measurements in the bake window.
public struct PrometheusQueryResult: Codable, Sendable, Equatable {
  public var name: String
  /// As sent, with `${app}`, `${environment}` and `${release}` filled in.
  public var query: String
  public var max: Double?
  public var min: Double?
  public var failureLimit: Int
  public var failures: Int
  public var passed: Bool
  public var measurements: [PrometheusMeasurement]

  public init(spec: PrometheusQuerySpec, query: String) {
    name = spec.name
    self.query = query
    max = spec.max
    min = spec.min
    failureLimit = spec.failureLimit
    failures = 0
    passed = true
    measurements = []
  }

  enum CodingKeys: String, CodingKey {
    case name, query, max, min, failures, passed, measurements
    case failureLimit = "failure_limit"
  }

  /// Adds a measurement; more failures than `failureLimit` fail the query.
  mutating func record(_ measurement: PrometheusMeasurement) {
    measurements.append(measurement)
    if !measurement.passed { failures += 1 }
    passed = failures <= failureLimit
  }

  var lastFailure: String? {
    measurements.last { !$0.passed }.map {
      $0.error ?? $0.value.map { "value \(Self.format($0))" } ?? "failed"
    }
  }

  /// `error-rate: 5/5 passed, last 0.0021 (max 0.01)` or
  /// `error-rate: failed, 2 of 3 measurements failed (failure_limit 0), last: value 0.5 above max 0.01`.
  public var summary: String {
    let bounds = [max.map { "max \(Self.format($0))" }, min.map { "min \(Self.format($0))" }].compactMap {
      $0
    }
    .joined(separator: ", ")
    let last = measurements.last
    if passed {
      let value = last?.value.map { ", last \(Self.format($0))" } ?? ""
      return
        "prometheus \(name): \(measurements.count - failures)/\(measurements.count) passed\(value) (\(bounds))"
    }
    return
      "prometheus \(name): failed, \(failures) of \(measurements.count) measurements failed (failure_limit \(failureLimit)), last: \(lastFailure ?? "?")"
  }

  static func format(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
    return String(format: "%.6g", value)
  }
}

/// One query's answer at one moment.
public struct PrometheusMeasurement: Codable, Sendable, Equatable {
  public var at: Date
  /// nil when there was no value: no result, more than one series, or a PromQL error.
  public var value: Double?
  public var passed: Bool
  /// Why it failed: the bound it broke, or Prometheus's own message.
  public var error: String?

  public init(at: Date, value: Double?, passed: Bool, error: String? = nil) {
    self.at = at
    self.value = value
    self.passed = passed
    self.error = error
  }
}
