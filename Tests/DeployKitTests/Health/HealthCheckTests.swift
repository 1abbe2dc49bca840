import CCurl
import Foundation
import TestSupport
import Testing

@testable import DeployEngine
@testable import DeployKit

/// A fast policy so loops finish quickly; tests assert counts and verdicts, never times.
func quickPolicy(retries: Int = 3, startPeriod: Duration = .zero, timeout: Duration = .seconds(2)) throws
  -> HealthPolicy
{
  try HealthPolicy(
    interval: .milliseconds(20), timeout: timeout, retries: retries, startPeriod: startPeriod,
    firstDelay: .milliseconds(5))
}

final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var value = 0
  func next() -> Int {
    lock.withLock {
      value += 1; return value
    }
  }
  var count: Int { lock.withLock { value } }
}

@Suite struct HTTPProbeTests {
  @Test func twoHundredIsHealthy() async throws {
    try await withHTTPServer { server in
      let result = try await HTTPProbe(url: server.url("/healthz")).run()
      #expect(result.healthy)
      #expect(result.status == 200)
      #expect(result.failure == nil)
      #expect(result.body == BusyboxHTTPServer.healthzBody)
      #expect(result.reason == "HTTP 200")
    }
  }

  @Test func fiveHundredIsUnhealthy() async throws {
    try await withHTTPServer { server in
      let result = try await HTTPProbe(url: server.url("/cgi-bin/fail")).run()
      #expect(!result.healthy)
      #expect(result.status == 500)
      #expect(result.body == "database down\n")
      #expect(result.reason == "HTTP 500, expected 200")
    }
  }

  @Test func expectedStatusIsConfigurable() async throws {
    try await withHTTPServer { server in
      let result = try await HTTPProbe(url: server.url("/cgi-bin/fail"), expectStatus: 500).run()
      #expect(result.healthy)
    }
  }

  @Test func bodySubstringMatchAndMismatch() async throws {
    try await withHTTPServer { server in
      let match = try await HTTPProbe(url: server.url("/healthz"), bodyContains: "ready").run()
      #expect(match.healthy)
      let mismatch = try await HTTPProbe(url: server.url("/healthz"), bodyContains: "database ok").run()
      #expect(!mismatch.healthy)
      #expect(mismatch.status == 200)
      #expect(mismatch.reason.contains("does not contain \"database ok\""))
    }
  }

  @Test func bodyIsKeptOnlyUpToTheLimit() async throws {
    try await withHTTPServer { server in
      let result = try await HTTPProbe(url: server.url("/big")).run()
      #expect(result.healthy)
      #expect(result.status == 200)
      #expect(result.body.utf8.count == HTTPProbe.defaultBodyLimit)
      #expect(result.body.hasPrefix("0123456789abcdef"))
    }
  }

  @Test func redirectsAreNotFollowedByDefault() async throws {
    try await withHTTPServer { server in
      let plain = try await HTTPProbe(url: server.url("/cgi-bin/redirect")).run()
      #expect(!plain.healthy)
      #expect(plain.status == 302)
      let following = try await HTTPProbe(url: server.url("/cgi-bin/redirect"), followRedirects: true).run()
      #expect(following.healthy)
      #expect(following.body == BusyboxHTTPServer.healthzBody)
    }
  }

  @Test func closedPortIsConnectionRefused() async throws {
    let closed = try LoopbackSocket(listening: false)
    let result = try await HTTPProbe(url: closed.url).run()
    #expect(!result.healthy)
    #expect(result.status == nil)
    guard case .connectionRefused(let detail) = result.failure else {
      Issue.record("expected connection refused, got \(String(describing: result.failure))")
      return
    }
    #expect(detail.contains("\(closed.port)"), "libcurl's error buffer names the port: \(detail)")
    #expect(result.reason.hasPrefix("connection refused"))
  }

  @Test func serverThatNeverAnswersTimesOut() async throws {
    let silent = try LoopbackSocket(listening: true)
    let result = try await HTTPProbe(url: silent.url, timeout: .milliseconds(300)).run()
    #expect(!result.healthy)
    guard case .timedOut = result.failure else {
      Issue.record("expected a timeout, got \(String(describing: result.failure))")
      return
    }
  }

  /// With a 60 s timeout, only cancellation can end this probe with `CancellationError`; if
  /// cancellation did not reach libcurl, the probe would come back timed out instead.
  @Test func cancellationStopsAProbe() async throws {
    let silent = try LoopbackSocket(listening: true)
    let probe = try HTTPProbe(url: silent.url, timeout: .seconds(60))
    let task = Task { try await probe.run() }
    try await Task.sleep(for: .milliseconds(100))
    task.cancel()
    let outcome = await task.result
    #expect(throws: CancellationError.self) { try outcome.get() }
  }

  @Test func alreadyCancelledTaskDoesNotProbe() async throws {
    let silent = try LoopbackSocket(listening: true)
    let probe = try HTTPProbe(url: silent.url, timeout: .seconds(60))
    let task = Task {
      withUnsafeCurrentTask { $0?.cancel() }
      return try await probe.run()
    }
    let outcome = await task.result
    #expect(throws: CancellationError.self) { try outcome.get() }
  }

  /// Probes wait on the curl thread, not on the cooperative pool (two threads here): while
  /// eight probes hang on a silent server, a probe of a live server still completes, and does so
  /// before any of the eight ends.
  @Test func hangingProbesDoNotStallOthers() async throws {
    try await withHTTPServer { server in
      let silent = try LoopbackSocket(listening: true)
      let hanging = try HTTPProbe(url: silent.url, timeout: .seconds(5))
      let finished = Counter()
      try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<8 {
          group.addTask {
            _ = try? await hanging.run()
            _ = finished.next()
          }
        }
        try await Task.sleep(for: .milliseconds(200))
        let live = try await HTTPProbe(url: server.url("/healthz")).run()
        #expect(live.healthy)
        #expect(finished.count == 0)
        group.cancelAll()
      }
      #expect(finished.count == 8)
    }
  }

  @Test func onlyHTTPAndHTTPSAreProbed() {
    #expect(throws: HealthError.self) { try HTTPProbe(url: "ftp://127.0.0.1/healthz") }
    #expect(throws: HealthError.self) { try HTTPProbe(url: "file:///etc/passwd") }
    #expect(throws: HealthError.self) { try HTTPProbe(url: "http://127.0.0.1/a b") }
    #expect(throws: HealthError.self) { try HTTPProbe(url: "http://127.0.0.1/", expectStatus: 42) }
    #expect((try? HTTPProbe(url: "HTTPS://example.invalid/")) != nil)
  }

  @Test func urlBuilderBracketsIPv6() {
    #expect(HTTPProbe.url(host: "10.0.1.11", port: 8080, path: "/healthz") == "http://10.0.1.11:8080/healthz")
    #expect(HTTPProbe.url(host: "::1", port: 80, path: "healthz") == "http://[::1]:80/healthz")
    #expect(HTTPProbe.url(host: "web", port: 443, tls: true) == "https://web:443/")
  }

  @Test func curlErrorsCarryLibcurlsMessage() throws {
    let easy = try CurlEasy(bodyLimit: 16)
    // An unsupported protocol list is refused by libcurl itself.
    #expect {
      try easy.set(CURLOPT_PROTOCOLS_STR, "gopher-but-not-really", "CURLOPT_PROTOCOLS_STR")
    } throws: { error in
      guard case .curl(let call, let code, let message, _) = error as? HealthError else { return false }
      return call == "curl_easy_setopt(CURLOPT_PROTOCOLS_STR)" && code != 0 && !message.isEmpty
    }
  }
}

@Suite struct HealthCheckLoopTests {
  @Test func fastAppIsHealthyOnTheFirstProbe() async throws {
    try await withHTTPServer { server in
      let check = try HealthCheck(policy: quickPolicy(), http: HTTPProbe(url: server.url("/healthz")))
      let report = try await check.run()
      #expect(report.healthy)
      #expect(report.attempts == 1)
      #expect(report.lastResults.map(\.result.status) == [200])
      #expect(report.reason.hasPrefix("healthy after 1 attempt"))
    }
  }

  @Test func fiveHundredsExhaustTheRetries() async throws {
    try await withHTTPServer { server in
      let check = try HealthCheck(
        policy: quickPolicy(retries: 3), http: HTTPProbe(url: server.url("/cgi-bin/fail")))
      let report = try await check.run()
      #expect(!report.healthy)
      #expect(report.attempts == 3)
      #expect(report.lastResults.map(\.result.status) == [500, 500, 500])
      #expect(report.lastResults.map(\.number) == [1, 2, 3])
      #expect(report.lastResults.allSatisfy { $0.counted })
      #expect(report.reason.contains("3 consecutive failures"))
      #expect(report.reason.contains("HTTP 500"))
    }
  }

  @Test func reportKeepsOnlyTheLastResults() async throws {
    try await withHTTPServer { server in
      let check = try HealthCheck(
        policy: quickPolicy(retries: 8), http: HTTPProbe(url: server.url("/cgi-bin/fail")))
      let report = try await check.run()
      #expect(report.attempts == 8)
      #expect(report.lastResults.map(\.number) == [4, 5, 6, 7, 8])
    }
  }

  @Test func closedPortIsUnhealthyWithTheReason() async throws {
    let closed = try LoopbackSocket(listening: false)
    let check = try HealthCheck(policy: quickPolicy(retries: 2), http: HTTPProbe(url: closed.url))
    let report = try await check.run()
    #expect(!report.healthy)
    #expect(report.attempts == 2)
    #expect(report.reason.contains("connection refused"))
  }

  @Test func policyTimeoutAppliesToHTTP() async throws {
    let silent = try LoopbackSocket(listening: true)
    let check = try HealthCheck(
      policy: quickPolicy(retries: 2, timeout: .milliseconds(200)),
      http: HTTPProbe(url: silent.url, timeout: .seconds(60)))
    let report = try await check.run()
    #expect(!report.healthy)
    #expect(report.attempts == 2)
    #expect(report.lastResults.allSatisfy { if case .timedOut = $0.result.failure { true } else { false } })
  }

  /// Fails 4 times, then passes. With a long start period none of the failures count, so
  /// retries=2 is never reached and the 5th probe makes it healthy.
  @Test func failuresInTheStartPeriodDoNotCount() async throws {
    try await withHTTPServer(flakyFailures: 4) { server in
      let check = try HealthCheck(
        policy: quickPolicy(retries: 2, startPeriod: .seconds(600)),
        http: HTTPProbe(url: server.url("/cgi-bin/flaky")))
      let report = try await check.run()
      #expect(report.healthy)
      #expect(report.attempts == 5)
      #expect(report.lastResults.map(\.result.status) == [503, 503, 503, 503, 200])
      #expect(report.lastResults.allSatisfy { !$0.counted })
      #expect(server.flakyRequests == 5)
    }
  }

  /// The same server without a start period: two failures and it is unhealthy.
  @Test func withoutStartPeriodTheSameFailuresCount() async throws {
    try await withHTTPServer(flakyFailures: 4) { server in
      let check = try HealthCheck(
        policy: quickPolicy(retries: 2, startPeriod: .zero),
        http: HTTPProbe(url: server.url("/cgi-bin/flaky")))
      let report = try await check.run()
      #expect(!report.healthy)
      #expect(report.attempts == 2)
      #expect(server.flakyRequests == 2)
    }
  }

  /// The first probe runs at once, inside a start period, so it does not count; failures after
  /// the period do, and `retries` of them end the check.
  @Test func failuresAfterTheStartPeriodCount() async throws {
    try await withHTTPServer { server in
      let check = try HealthCheck(
        policy: quickPolicy(retries: 2, startPeriod: .milliseconds(150)),
        http: HTTPProbe(url: server.url("/cgi-bin/fail")))
      let report = try await check.run()
      #expect(!report.healthy)
      #expect(report.attempts > 2)
      #expect(report.lastResults.suffix(2).allSatisfy { $0.counted })
      #expect(report.lastResults.filter(\.counted).count == 2)
    }
  }

  @Test func deadContainerStopsAtOnce() async throws {
    try await withHTTPServer { server in
      let calls = Counter()
      let check = try HealthCheck(
        policy: quickPolicy(retries: 1000), http: HTTPProbe(url: server.url("/cgi-bin/fail")),
        liveness: {
          calls.next() < 3 ? .alive : .dead("exited with code 137 (restarted 2 times)")
        })
      let report = try await check.run()
      #expect(!report.healthy)
      #expect(report.attempts == 3)
      #expect(calls.count == 3)
      #expect(report.reason.contains("exited with code 137"))
      #expect(report.reason.contains("HTTP 500"))
    }
  }

  @Test func livenessErrorsDoNotEndTheCheck() async throws {
    try await withHTTPServer { server in
      let check = try HealthCheck(
        policy: quickPolicy(retries: 3), http: HTTPProbe(url: server.url("/cgi-bin/fail")),
        liveness: { throw FixtureError("ssh: connection reset") })
      let report = try await check.run()
      #expect(!report.healthy)
      #expect(report.attempts == 3)
      #expect(report.livenessError == "ssh: connection reset")
    }
  }

  @Test func cancellationStopsTheLoop() async throws {
    let silent = try LoopbackSocket(listening: true)
    let check = try HealthCheck(
      policy: quickPolicy(retries: 1000, timeout: .seconds(60)), http: HTTPProbe(url: silent.url))
    let task = Task { try await check.run() }
    try await Task.sleep(for: .milliseconds(100))
    task.cancel()
    let outcome = await task.result
    #expect(throws: CancellationError.self) { try outcome.get() }
  }

  @Test func abstractProbeVerdictsAndErrors() async throws {
    let calls = Counter()
    let check = try HealthCheck(policy: quickPolicy(retries: 5)) { _ in
      switch calls.next() {
      case 1: throw FixtureError("docker inspect: no such container")
      case 2: return .unhealthy("docker health status: starting")
      default: return .healthy("docker health status: healthy")
      }
    }
    let report = try await check.run()
    #expect(report.healthy)
    #expect(report.attempts == 3)
    #expect(report.lastResults[0].result.failure == .probeError("docker inspect: no such container"))
    #expect(report.lastResults[1].result.reason == "docker health status: starting")
    #expect(report.reason.hasSuffix("docker health status: healthy"))
  }

  @Test func slowAbstractProbeTimesOut() async throws {
    let check = try HealthCheck(policy: quickPolicy(retries: 1, timeout: .milliseconds(50))) { _ in
      try await Task.sleep(for: .seconds(60))
      return .healthy("too late")
    }
    let report = try await check.run()
    #expect(!report.healthy)
    #expect(report.attempts == 1)
    guard case .timedOut = report.lastResults.first?.result.failure else {
      Issue.record("expected a timeout, got \(report.lastResults)")
      return
    }
  }

  @Test func policyRejectsNonsense() {
    #expect(throws: HealthError.self) { try HealthPolicy(retries: 0) }
    #expect(throws: HealthError.self) { try HealthPolicy(interval: .zero) }
    #expect(throws: HealthError.self) { try HealthPolicy(timeout: .seconds(-1)) }
    #expect(throws: HealthError.self) { try HealthPolicy(startPeriod: .seconds(-1)) }
  }
}
