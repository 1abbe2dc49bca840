import CCurl
import DeployConfig
import Foundation

/// A bounded load test: exactly `spec.requests` GETs against one URL, `spec.concurrency` in
/// flight, through the process's libcurl multi loop (`CurlTransferLoop`). Each in-flight slot
/// is one easy handle the loop thread restarts itself as soon as its request ends, so the
/// cooperative pool is not involved per request and connections are kept when the server
/// allows it.
public struct LoadTest: Sendable {
  public var spec: LoadTestSpec
  /// The Host header, when not the URL's (through the proxy of an app with `hosts:`).
  public var hostHeader: String?

  public init(_ spec: LoadTestSpec, hostHeader: String? = nil) {
    self.spec = spec
    self.hostHeader = hostHeader
  }

  /// Runs the test against `baseURL` (`http://127.0.0.1:40123`, an SSH port-forward's local
  /// end, or `http://address:port`) plus `spec.path`. Errors of the server or the network are
  /// counted in the figures; this throws only `CancellationError` and `HealthError` for a
  /// libcurl set-up failure.
  public func run(baseURL: String) async throws -> LoadFigures {
    try Task.checkCancellation()
    let url = Self.url(baseURL, spec.path)
    let probeCheck = try HTTPProbe(url: url, timeout: spec.requestTimeout)
    let loop = try CurlTransferLoop.shared()
    let tally = LoadTally(total: spec.requests)
    var transfers: [CurlTransfer] = []
    for _ in 0..<min(spec.concurrency, spec.requests) {
      let easy = try CurlEasy(bodyLimit: 0, discardsExcess: true)
      try configure(easy, url: probeCheck.url)
      _ = tally.claim()
      transfers.append(
        CurlTransfer(easy) { code in
          tally.record(easy, code)
          return tally.claim()
        })
    }
    let clock = ContinuousClock()
    let started = clock.now
    let cancelled = await withTaskGroup(of: Bool.self) { group in
      for transfer in transfers {
        group.addTask {
          // Every request, the slot's last one too, is recorded by the restart closure.
          if case .cancelled = await loop.perform(transfer) { return true }
          return false
        }
      }
      var cancelled = false
      for await wasCancelled in group where wasCancelled { cancelled = true }
      return cancelled
    }
    if cancelled || Task.isCancelled { throw CancellationError() }
    return tally.figures(url: url, concurrency: spec.concurrency, wall: clock.now - started)
  }

  static func url(_ base: String, _ path: String) -> String {
    let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
    return trimmed + (path.hasPrefix("/") ? path : "/" + path)
  }

  private func configure(_ easy: CurlEasy, url: String) throws(HealthError) {
    try easy.set(CURLOPT_URL, url, "CURLOPT_URL")
    try easy.set(CURLOPT_HTTPGET, 1, "CURLOPT_HTTPGET")
    try easy.set(CURLOPT_PROTOCOLS_STR, "http,https", "CURLOPT_PROTOCOLS_STR")
    try easy.set(CURLOPT_FOLLOWLOCATION, 0, "CURLOPT_FOLLOWLOCATION")
    try easy.set(CURLOPT_PROXY, "", "CURLOPT_PROXY")
    try easy.set(CURLOPT_NOPROXY, "*", "CURLOPT_NOPROXY")
    try easy.set(CURLOPT_TIMEOUT_MS, spec.requestTimeout.wholeMilliseconds, "CURLOPT_TIMEOUT_MS")
    try easy.set(CURLOPT_NOSIGNAL, 1, "CURLOPT_NOSIGNAL")
    try easy.set(CURLOPT_USERAGENT, "deployctl-verify/1", "CURLOPT_USERAGENT")
    try easy.setHostHeader(hostHeader)
  }
}

/// The counts of one load test. Claimed and recorded on the loop thread only (the first claims
/// happen before any transfer is handed to the loop, the figures are read after every transfer
/// has come back), so it needs no lock.
final class LoadTally: @unchecked Sendable {
  let total: Int
  private var claimed = 0
  private var latencies: [Int64] = []
  private var transportErrors = 0
  private var statusErrors = 0
  private var reasons: [String: Int] = [:]

  init(total: Int) {
    self.total = total
    latencies.reserveCapacity(total)
  }

  /// Takes the next request; false once all `total` are taken.
  func claim() -> Bool {
    guard claimed < total else { return false }
    claimed += 1
    return true
  }

  func record(_ easy: CurlEasy, _ code: CURLcode) {
    var micros: curl_off_t = 0
    _ = dc_curl_getinfo_off_t(easy.handle, CURLINFO_TOTAL_TIME_T, &micros)
    latencies.append(Int64(micros))
    if code != CURLE_OK {
      transportErrors += 1
      note(easy.error(code, call: "request").shortDescription)
      return
    }
    let status: Int
    do {
      status = try easy.info(CURLINFO_RESPONSE_CODE, "CURLINFO_RESPONSE_CODE")
    } catch {
      transportErrors += 1
      note(error.shortDescription)
      return
    }
    if !(200..<400).contains(status) {
      statusErrors += 1
      note("HTTP \(status)")
    }
  }

  private func note(_ reason: String) {
    if reasons[reason] != nil || reasons.count < 5 { reasons[reason, default: 0] += 1 }
  }

  func figures(url: String, concurrency: Int, wall: Duration) -> LoadFigures {
    let sorted = latencies.sorted()
    func percentile(_ p: Double) -> Double {
      guard !sorted.isEmpty else { return 0 }
      let rank = Int((p * Double(sorted.count)).rounded(.up))
      return Double(sorted[min(max(rank, 1), sorted.count) - 1]) / 1000
    }
    let seconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
    let errors = transportErrors + statusErrors
    return LoadFigures(
      url: url, requests: latencies.count, concurrency: concurrency, errors: errors,
      transportErrors: transportErrors, statusErrors: statusErrors,
      errorRate: latencies.isEmpty ? 0 : Double(errors) / Double(latencies.count),
      requestsPerSecond: seconds > 0 ? Double(latencies.count) / seconds : 0,
      p50Ms: percentile(0.50), p95Ms: percentile(0.95), p99Ms: percentile(0.99),
      durationMs: wall.milliseconds,
      errorSamples: reasons.sorted { $0.value > $1.value }.map { "\($0.key) (\($0.value)×)" })
  }
}

extension HealthError {
  /// libcurl's message for the error's code ("Couldn't connect to server", "Timeout was
  /// reached"): the same for every request that failed the same way, so failures group. (Its
  /// error buffer carries timings, "after 3 ms", which would not.)
  fileprivate var shortDescription: String {
    switch self {
    case .curl(_, _, let message, _): return message
    default: return description
    }
  }
}

/// What a load test measured (JSON `verification.hosts[].load.figures`).
public struct LoadFigures: Codable, Sendable, Equatable {
  public var url: String
  /// Requests sent and ended (answered, failed or timed out).
  public var requests: Int
  public var concurrency: Int
  /// Transport errors plus statuses other than 2xx/3xx.
  public var errors: Int
  public var transportErrors: Int
  public var statusErrors: Int
  /// `errors / requests`, 0...1.
  public var errorRate: Double
  public var requestsPerSecond: Double
  /// Latency percentiles in milliseconds, over every request (failed ones too).
  public var p50Ms: Double
  public var p95Ms: Double
  public var p99Ms: Double
  public var durationMs: Int
  /// The most frequent reasons requests failed, with their counts.
  public var errorSamples: [String]

  public init(
    url: String, requests: Int, concurrency: Int, errors: Int, transportErrors: Int, statusErrors: Int,
    errorRate: Double, requestsPerSecond: Double, p50Ms: Double, p95Ms: Double, p99Ms: Double,
    durationMs: Int, errorSamples: [String] = []
  ) {
    self.url = url
    self.requests = requests
    self.concurrency = concurrency
    self.errors = errors
    self.transportErrors = transportErrors
    self.statusErrors = statusErrors
    self.errorRate = errorRate
    self.requestsPerSecond = requestsPerSecond
    self.p50Ms = p50Ms
    self.p95Ms = p95Ms
    self.p99Ms = p99Ms
    self.durationMs = durationMs
    self.errorSamples = errorSamples
  }

  enum CodingKeys: String, CodingKey {
    case url, requests, concurrency, errors
    case transportErrors = "transport_errors"
    case statusErrors = "status_errors"
    case errorRate = "error_rate"
    case requestsPerSecond = "requests_per_second"
    case p50Ms = "p50_ms"
    case p95Ms = "p95_ms"
    case p99Ms = "p99_ms"
    case durationMs = "duration_ms"
    case errorSamples = "error_samples"
  }

  /// `2000 requests, 3 errors (0.15%), 1843 req/s, p50 3.1ms, p95 8.2ms, p99 12.0ms`.
  public var summary: String {
    "\(requests) requests, \(errors) error\(errors == 1 ? "" : "s") (\(Self.percent(errorRate))), "
      + "\(Int(requestsPerSecond.rounded())) req/s, p50 \(Self.ms(p50Ms)), p95 \(Self.ms(p95Ms)), p99 \(Self.ms(p99Ms))"
  }

  static func percent(_ rate: Double) -> String {
    String(format: "%.2f%%", rate * 100)
  }

  static func ms(_ value: Double) -> String {
    String(format: value < 100 ? "%.1fms" : "%.0fms", value)
  }
}

/// Pass or fail against the plan's limits, with a reason per limit that was not met.
public struct LoadVerdict: Codable, Sendable, Equatable {
  public var passed: Bool
  public var reasons: [String]

  public init(passed: Bool, reasons: [String]) {
    self.passed = passed
    self.reasons = reasons
  }
}

extension LoadTestSpec {
  /// Fails when the error rate is over `max_error_rate`, or the p95 latency is not below `p95`.
  public func judge(_ figures: LoadFigures) -> LoadVerdict {
    var reasons: [String] = []
    if figures.requests < requests {
      reasons.append("only \(figures.requests) of \(requests) requests ended")
    }
    if figures.errorRate > maxErrorRate {
      reasons.append(
        "error rate \(LoadFigures.percent(figures.errorRate)) is over max_error_rate \(LoadFigures.percent(maxErrorRate))"
          + (figures.errorSamples.isEmpty ? "" : ": " + figures.errorSamples.joined(separator: ", ")))
    }
    if let p95 {
      let limit = Double(p95.components.seconds) * 1000 + Double(p95.components.attoseconds) / 1e15
      if figures.p95Ms >= limit {
        reasons.append("p95 latency \(LoadFigures.ms(figures.p95Ms)) is not below \(p95.configText)")
      }
    }
    return LoadVerdict(passed: reasons.isEmpty, reasons: reasons)
  }
}
