import DeployConfig

/// One `verify.smoke` check: a single GET, judged by its status and, optionally, its body.
public struct SmokeCheck: Sendable {
  public var spec: SmokeCheckSpec
  /// The whole request's limit.
  public var timeout: Duration
  /// The Host header, when not the URL's (through the proxy of an app with `hosts:`).
  public var hostHeader: String?

  public init(_ spec: SmokeCheckSpec, timeout: Duration = .seconds(10), hostHeader: String? = nil) {
    self.spec = spec
    self.timeout = timeout
    self.hostHeader = hostHeader
  }

  /// Runs the check once against `baseURL` (`http://127.0.0.1:40123` or `http://address:port`)
  /// plus the check's path. What the server or network did is in the result; this throws only
  /// `CancellationError` and `HealthError` for a libcurl set-up failure.
  public func run(baseURL: String) async throws -> SmokeResult {
    var probe = try HTTPProbe(
      url: LoadTest.url(baseURL, spec.path), expectStatus: spec.expectStatus,
      bodyContains: spec.bodyContains, timeout: timeout)
    probe.hostHeader = hostHeader
    let result = try await probe.run()
    return SmokeResult(
      port: spec.port, path: spec.path, passed: result.healthy, status: result.status,
      reason: result.reason, durationMs: result.duration.milliseconds)
  }
}

/// One smoke check's outcome (JSON `verification.hosts[].smoke[]`).
public struct SmokeResult: Codable, Sendable, Equatable {
  public var port: Int
  public var path: String
  public var passed: Bool
  /// The HTTP status when a response came back.
  public var status: Int?
  /// "HTTP 200", "HTTP 500, expected 200", "HTTP 200, but the body does not contain \"ok\"",
  /// "connection refused (…)".
  public var reason: String
  public var durationMs: Int

  public init(port: Int, path: String, passed: Bool, status: Int?, reason: String, durationMs: Int) {
    self.port = port
    self.path = path
    self.passed = passed
    self.status = status
    self.reason = reason
    self.durationMs = durationMs
  }

  enum CodingKeys: String, CodingKey {
    case port, path, passed, status, reason
    case durationMs = "duration_ms"
  }

  /// `GET :8080/version: HTTP 500, expected 200`.
  public var summary: String { "GET :\(port)\(path): \(reason)" }
}
