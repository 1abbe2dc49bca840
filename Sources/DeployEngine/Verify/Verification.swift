import DeployConfig

/// Verification of one host: every smoke check, then the load test (docs/configuration.md
/// "Verification").
public struct HostVerifier: Sendable {
  public var spec: VerifySpec
  public var smokeTimeout: Duration
  /// The Host header of the checks on a port, where it must name the app: the proxy's
  /// `http_port` of an app with `hosts:` (`ProxySpec.verificationHosts`).
  public var hostHeaders: [Int: String]

  public init(_ spec: VerifySpec, smokeTimeout: Duration = .seconds(10), hostHeaders: [Int: String] = [:]) {
    self.spec = spec
    self.smokeTimeout = smokeTimeout
    self.hostHeaders = hostHeaders
  }

  /// Runs the checks of `host`. `baseURL(port)` gives the URL a host port is reached at: for
  /// `via: ssh` the local end of an SSH port-forward to 127.0.0.1:port on the host, for
  /// `via: direct` `http://address:port` (`HTTPProbe.url(host:port:path:)` with path ""). The
  /// load test runs only when every smoke check passed. Throws only `CancellationError`; a
  /// failure to reach a port (the closure throwing) is a failed verification of this host.
  public func run(host: String, baseURL: (Int) async throws -> String) async throws -> HostVerification {
    let clock = ContinuousClock()
    let started = clock.now
    var report = HostVerification(name: host, passed: true)
    func fail(_ error: any Error) throws {
      if error is CancellationError { throw error }
      report.passed = false
      report.error = "\(error)"
    }
    for check in spec.smoke {
      do {
        let smoke = SmokeCheck(check, timeout: smokeTimeout, hostHeader: hostHeaders[check.port])
        let result = try await smoke.run(baseURL: baseURL(check.port))
        report.smoke.append(result)
        if !result.passed { report.passed = false }
      } catch {
        try fail(error)
        report.smoke.append(
          SmokeResult(
            port: check.port, path: check.path, passed: false, status: nil, reason: "\(error)", durationMs: 0)
        )
      }
    }
    if let load = spec.load, report.passed {
      do {
        let figures = try await LoadTest(load, hostHeader: hostHeaders[load.port]).run(
          baseURL: baseURL(load.port))
        let verdict = load.judge(figures)
        report.load = LoadResult(figures: figures, verdict: verdict)
        if !verdict.passed { report.passed = false }
      } catch {
        try fail(error)
      }
    }
    report.durationMs = (clock.now - started).milliseconds
    return report
  }
}

/// A load test's figures and its verdict.
public struct LoadResult: Codable, Sendable, Equatable {
  public var figures: LoadFigures
  public var verdict: LoadVerdict

  public init(figures: LoadFigures, verdict: LoadVerdict) {
    self.figures = figures
    self.verdict = verdict
  }
}

/// One host's verification (JSON `verification.hosts[]`).
public struct HostVerification: Codable, Sendable, Equatable {
  public var name: String
  public var passed: Bool
  public var smoke: [SmokeResult]
  /// nil: no load test in the plan, or it did not run because a smoke check failed.
  public var load: LoadResult?
  /// Why the checks could not run (a port-forward that failed, …).
  public var error: String?
  public var durationMs: Int

  public init(
    name: String, passed: Bool, smoke: [SmokeResult] = [], load: LoadResult? = nil, error: String? = nil,
    durationMs: Int = 0
  ) {
    self.name = name
    self.passed = passed
    self.smoke = smoke
    self.load = load
    self.error = error
    self.durationMs = durationMs
  }

  enum CodingKeys: String, CodingKey {
    case name, passed, smoke, load, error
    case durationMs = "duration_ms"
  }

  /// One line for the text summary:
  /// `web1: verified: smoke 2/2; load 2000 requests, 0 errors (0.00%), 1843 req/s, p50 …` or
  /// `web1: verification failed: GET :8080/version: HTTP 500, expected 200`.
  public var summary: String { "\(name): \(outcome)" }

  /// `summary` without the host's name, for a progress line that already starts with it
  /// (`prod-1 verify: verified: smoke 1/1; …`).
  public var outcome: String {
    var parts: [String] = []
    if !smoke.isEmpty {
      let failed = smoke.filter { !$0.passed }
      parts.append(
        failed.isEmpty
          ? "smoke \(smoke.count)/\(smoke.count)"
          : failed.map(\.summary).joined(separator: "; "))
    }
    if let load {
      parts.append(
        "load " + load.figures.summary
          + (load.verdict.passed ? "" : " — " + load.verdict.reasons.joined(separator: "; ")))
    }
    if let error { parts.append(error) }
    return "\(passed ? "verified" : "verification failed"): " + parts.joined(separator: "; ")
  }
}
