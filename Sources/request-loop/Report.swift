import Foundation

/// What the loop prints (`--output json`; docs/testing.md "Request loop"). Times are in
/// milliseconds, except the run's own settings and length in seconds.
struct Report: Codable {
  var ratePerURL: Double
  var timeoutSeconds: Double
  /// From the first request to the stop (the requests then in flight were still awaited).
  var durationSeconds: Double
  var stoppedBy: StopReason
  var urls: [Summary]
  /// Every URL's requests together.
  var total: Summary

  // Spelled out: a key strategy would rewrite the keys of `bodies` and `statuses` too.
  enum CodingKeys: String, CodingKey {
    case ratePerURL = "rate_per_url", timeoutSeconds = "timeout_seconds", durationSeconds = "duration_seconds"
    case stoppedBy = "stopped_by", urls, total
  }
}

struct Summary: Codable {
  /// Absent in `total`.
  var url: String?
  var requests: Int
  var ok: Int
  /// Refused, reset, timed out, other transport errors, and 5xx answers.
  var failures: Int
  var failuresByKind: [String: Int]
  /// Answers by HTTP status ("200", "404", …).
  var statuses: [String: Int]
  /// Distinct answer bodies (their first bytes) and how often each came, whatever the status.
  var bodies: [String: Int]
  /// The longest time without a successful answer, counted from the start and to the stop too
  /// (a target that never answered has a gap of the whole run).
  var longestGapMs: Double
  /// Of the successful answers.
  var latencyMs: Latency
  /// Per 100 ms of the run (`--timeline`): answers that were successes and failures.
  var timeline: [Bucket]?

  enum CodingKeys: String, CodingKey {
    case url, requests, ok, failures, failuresByKind = "failures_by_kind", statuses, bodies
    case longestGapMs = "longest_gap_ms", latencyMs = "latency_ms", timeline
  }

  struct Latency: Codable {
    var p50: Double
    var p99: Double
    var max: Double
    /// The highest p99 of any whole second of the run (from the start): a moment of slow
    /// answers, such as a switch, that the p99 of a long run would hide.
    var worstSecondP99: Double

    enum CodingKeys: String, CodingKey {
      case p50, p99, max, worstSecondP99 = "worst_second_p99"
    }
  }

  struct Bucket: Codable {
    var startMs: Int
    var ok: Int
    var failed: Int

    enum CodingKeys: String, CodingKey {
      case startMs = "start_ms", ok, failed
    }
  }
}

/// The running counts for one target (or, merged, for all).
struct Tally {
  var requests = 0
  var failuresByKind: [String: Int] = [:]
  var statuses: [String: Int] = [:]
  var bodies: [String: Int] = [:]
  /// Seconds, of the successes.
  var latencies: [Double] = []
  /// When each success came, seconds since the start (in the order of `latencies`).
  var successTimes: [Double] = []
  var buckets: [Int: (ok: Int, failed: Int)] = [:]

  /// Distinct bodies kept; the rest are counted under one name, so a server that answers with
  /// a counter cannot grow the report without end.
  static let distinctBodies = 50
  static let otherBodies = "(other bodies)"

  mutating func record(_ response: Response, at time: Double, keepingTimeline: Bool) {
    requests += 1
    var failure: FailureKind?
    switch response.outcome {
    case .failed(let kind):
      failure = kind
    case .answered(let status, let body):
      statuses[String(status), default: 0] += 1
      let key = bodies[body] != nil || bodies.count < Self.distinctBodies ? body : Self.otherBodies
      bodies[key, default: 0] += 1
      if (500...599).contains(status) { failure = .http5xx }
    }
    if let failure {
      failuresByKind[failure.rawValue, default: 0] += 1
    } else {
      latencies.append(response.latency)
      successTimes.append(time)
    }
    if keepingTimeline {
      let bucket = Int(time * 10)
      var counts = buckets[bucket] ?? (0, 0)
      if failure == nil { counts.ok += 1 } else { counts.failed += 1 }
      buckets[bucket] = counts
    }
  }

  mutating func merge(_ other: Tally) {
    requests += other.requests
    failuresByKind.merge(other.failuresByKind, uniquingKeysWith: +)
    statuses.merge(other.statuses, uniquingKeysWith: +)
    bodies.merge(other.bodies, uniquingKeysWith: +)
    latencies += other.latencies
    successTimes += other.successTimes
    buckets.merge(other.buckets) { ($0.ok + $1.ok, $0.failed + $1.failed) }
  }

  func summary(url: String?, end: Double) -> Summary {
    let failures = failuresByKind.values.reduce(0, +)
    var gap = 0.0
    var previous = 0.0
    for time in successTimes.sorted() {
      gap = max(gap, time - previous)
      previous = time
    }
    gap = max(gap, end - previous)
    let sorted = latencies.sorted()
    var seconds: [Int: [Double]] = [:]
    for (latency, time) in zip(latencies, successTimes) { seconds[Int(time), default: []].append(latency) }
    let worstSecond = seconds.values.map { percentile(0.99, of: $0.sorted()) }.max() ?? 0
    var timeline: [Summary.Bucket]?
    if !buckets.isEmpty {
      timeline = buckets.keys.sorted().map { key in
        Summary.Bucket(startMs: key * 100, ok: buckets[key]?.ok ?? 0, failed: buckets[key]?.failed ?? 0)
      }
    }
    return Summary(
      url: url, requests: requests, ok: requests - failures, failures: failures,
      failuresByKind: failuresByKind,
      statuses: statuses, bodies: bodies, longestGapMs: milliseconds(gap * 1000),
      latencyMs: .init(
        p50: milliseconds(percentile(0.5, of: sorted)), p99: milliseconds(percentile(0.99, of: sorted)),
        max: milliseconds((sorted.last ?? 0) * 1000), worstSecondP99: milliseconds(worstSecond)),
      timeline: timeline)
  }

  /// The nearest-rank percentile `p` of `sorted` (seconds), in milliseconds.
  private func percentile(_ p: Double, of sorted: [Double]) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(sorted.count - 1, max(0, rank))] * 1000
  }

  /// Rounded to 0.1 ms: finer is noise.
  private func milliseconds(_ value: Double) -> Double { (value * 10).rounded() / 10 }
}

extension Report {
  /// One paragraph per URL and one for all, for people (the demo prints it).
  var text: String {
    var lines: [String] = []
    for summary in urls + (urls.count > 1 ? [total] : []) {
      let name = summary.url ?? "all URLs"
      var kinds = summary.failuresByKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        .joined(separator: ", ")
      kinds = kinds.isEmpty ? "" : " (\(kinds))"
      lines.append(
        "\(name): \(summary.requests) requests, \(summary.failures) failed\(kinds), longest gap "
          + "\(summary.longestGapMs) ms, latency p50 \(summary.latencyMs.p50) ms, p99 \(summary.latencyMs.p99) ms, "
          + "max \(summary.latencyMs.max) ms, worst second's p99 \(summary.latencyMs.worstSecondP99) ms")
      let statuses = summary.statuses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
      if !statuses.isEmpty { lines.append("  statuses: " + statuses.joined(separator: ", ")) }
      for (body, count) in summary.bodies.sorted(by: { $0.value > $1.value }).prefix(5) {
        lines.append("  body \(String(reflecting: String(body.prefix(60)))): \(count)")
      }
    }
    let rate = ratePerURL.formatted(.number.precision(.fractionLength(0...1)))
    lines.append(
      "\(urls.count) URL(s) at \(rate) requests/s each for "
        + "\(durationSeconds.formatted(.number.precision(.fractionLength(1)))) s, stopped by \(stoppedBy.rawValue)"
    )
    return lines.joined(separator: "\n")
  }
}
