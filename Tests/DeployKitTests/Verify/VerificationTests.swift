import Foundation
import TestSupport
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

/// Load tests and smoke checks against real HTTP servers on loopback (busybox httpd with CGI
/// scripts), started and stopped by each test.
@Suite struct VerificationTests {
  /// Adds a CGI script to a running server (busybox httpd runs it per request).
  func addCGI(_ server: BusyboxHTTPServer, _ name: String, _ body: String) throws {
    try writeExecutable(
      server.root.url.appendingPathComponent("cgi-bin/\(name)").path, "#!/bin/sh\n\(body)\n")
  }

  @Test func aLoadTestWithinItsLimitsPasses() async throws {
    try await withHTTPServer { server in
      let spec = LoadTestSpec(
        port: server.port, path: "/healthz", requests: 300, concurrency: 10, maxErrorRate: 0,
        p95: .seconds(10))
      let figures = try await LoadTest(spec).run(baseURL: "http://127.0.0.1:\(server.port)")
      #expect(figures.url == server.url("/healthz"))
      #expect(figures.requests == 300)
      #expect(figures.errors == 0)
      #expect(figures.errorRate == 0)
      #expect(figures.requestsPerSecond > 0)
      #expect(figures.p50Ms > 0 && figures.p50Ms <= figures.p95Ms && figures.p95Ms <= figures.p99Ms)
      #expect(spec.judge(figures) == LoadVerdict(passed: true, reasons: []))
    }
  }

  @Test func exactlyTheRequestedNumberOfRequestsArrives() async throws {
    try await withHTTPServer { server in
      let log = server.root.url.appendingPathComponent("requests").path
      try addCGI(
        server, "count",
        "echo x >> '\(log)'\nprintf 'Status: 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nok\\n'")
      let spec = LoadTestSpec(port: server.port, path: "/cgi-bin/count", requests: 53, concurrency: 7)
      let figures = try await LoadTest(spec).run(baseURL: "http://127.0.0.1:\(server.port)/")
      #expect(figures.requests == 53)
      #expect(figures.errors == 0)
      let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
      #expect(lines.count == 53)
    }
  }

  @Test func aP95ThatCannotBeMetFails() async throws {
    try await withHTTPServer { server in
      try addCGI(server, "slow", "sleep 0.3\nprintf 'Status: 200 OK\\r\\n\\r\\nslow\\n'")
      let spec = LoadTestSpec(
        port: server.port, path: "/cgi-bin/slow", requests: 10, concurrency: 5, p95: .milliseconds(100))
      let figures = try await LoadTest(spec).run(baseURL: "http://127.0.0.1:\(server.port)")
      #expect(figures.requests == 10)
      #expect(figures.errors == 0)
      #expect(figures.p95Ms >= 300)
      let verdict = spec.judge(figures)
      #expect(!verdict.passed)
      #expect(verdict.reasons.count == 1)
      #expect(verdict.reasons.first?.contains("is not below 100ms") == true)
    }
  }

  @Test func errorStatusesOverTheLimitFail() async throws {
    try await withHTTPServer { server in
      let spec = LoadTestSpec(
        port: server.port, path: "/cgi-bin/fail", requests: 20, concurrency: 4, maxErrorRate: 0.01)
      let figures = try await LoadTest(spec).run(baseURL: "http://127.0.0.1:\(server.port)")
      #expect(figures.requests == 20)
      #expect(figures.statusErrors == 20)
      #expect(figures.transportErrors == 0)
      #expect(figures.errorRate == 1)
      #expect(figures.errorSamples == ["HTTP 500 (20×)"])
      let verdict = spec.judge(figures)
      #expect(!verdict.passed)
      #expect(verdict.reasons == ["error rate 100.00% is over max_error_rate 1.00%: HTTP 500 (20×)"])
    }
  }

  @Test func aRedirectIsNotAnError() async throws {
    try await withHTTPServer { server in
      let spec = LoadTestSpec(
        port: server.port, path: "/cgi-bin/redirect", requests: 5, concurrency: 2, maxErrorRate: 0)
      let figures = try await LoadTest(spec).run(baseURL: "http://127.0.0.1:\(server.port)")
      #expect(figures.errors == 0)
      #expect(spec.judge(figures).passed)
    }
  }

  @Test func refusedConnectionsAreTransportErrors() async throws {
    let closed = try LoopbackSocket(listening: false)
    let spec = LoadTestSpec(port: closed.port, requests: 12, concurrency: 3, maxErrorRate: 0.5)
    let figures = try await LoadTest(spec).run(baseURL: "http://127.0.0.1:\(closed.port)")
    #expect(figures.requests == 12)
    #expect(figures.transportErrors == 12)
    #expect(figures.errorSamples.count == 1)
    #expect(figures.errorSamples.first?.contains("onnect") == true)
    let verdict = spec.judge(figures)
    #expect(!verdict.passed)
    #expect(verdict.reasons.first?.hasPrefix("error rate 100.00% is over max_error_rate 50.00%") == true)
  }

  @Test func smokeChecksSayWhyTheyFail() async throws {
    try await withHTTPServer { server in
      let base = "http://127.0.0.1:\(server.port)"
      let ok = try await SmokeCheck(
        SmokeCheckSpec(port: server.port, path: "/healthz", bodyContains: "ready")
      )
      .run(baseURL: base)
      #expect(ok.passed)
      #expect(ok.status == 200)
      let status = try await SmokeCheck(SmokeCheckSpec(port: server.port, path: "/cgi-bin/fail")).run(
        baseURL: base)
      #expect(!status.passed)
      #expect(status.summary == "GET :\(server.port)/cgi-bin/fail: HTTP 500, expected 200")
      let body = try await SmokeCheck(SmokeCheckSpec(port: server.port, path: "/healthz", bodyContains: "v2"))
        .run(baseURL: base)
      #expect(!body.passed)
      #expect(body.reason == "HTTP 200, but the body does not contain \"v2\"")
    }
    let closed = try LoopbackSocket(listening: false)
    let refused = try await SmokeCheck(SmokeCheckSpec(port: 8080, path: "/"))
      .run(baseURL: "http://127.0.0.1:\(closed.port)")
    #expect(!refused.passed)
    #expect(refused.status == nil)
    #expect(refused.reason.hasPrefix("connection refused"))
  }

  @Test func aHostPassesOnlyWhenEveryCheckPasses() async throws {
    try await withHTTPServer { server in
      let spec = VerifySpec(
        via: .direct,
        smoke: [SmokeCheckSpec(port: 8080, path: "/healthz", bodyContains: "ok")],
        load: LoadTestSpec(port: 9090, path: "/healthz", requests: 40, concurrency: 4, p95: .seconds(10)))
      // Both plan ports lead to the one test server, as an SSH forward per port would.
      let base = "http://127.0.0.1:\(server.port)"
      let passed = try await HostVerifier(spec).run(host: "web1") { _ in base }
      #expect(passed.passed)
      #expect(passed.smoke.count == 1)
      #expect(passed.load?.figures.requests == 40)
      #expect(passed.summary.hasPrefix("web1: verified: smoke 1/1; load 40 requests, 0 errors (0.00%), "))

      var failing = spec
      failing.smoke.append(SmokeCheckSpec(port: 8080, path: "/cgi-bin/fail"))
      let failed = try await HostVerifier(failing).run(host: "web2") { _ in base }
      #expect(!failed.passed)
      #expect(failed.load == nil)  // not load-tested after a failed smoke check
      #expect(failed.summary == "web2: verification failed: GET :8080/cgi-bin/fail: HTTP 500, expected 200")

      struct NoForward: Error, CustomStringConvertible {
        var description: String { "port-forward to 8080 failed" }
      }
      let unreachable = try await HostVerifier(spec).run(host: "web3") { _ in throw NoForward() }
      #expect(!unreachable.passed)
      #expect(unreachable.error == "port-forward to 8080 failed")

      let report = VerificationReport(via: .direct, hosts: [passed, failed, unreachable])
      #expect(!report.passed)
      #expect(report.failedHosts == ["web2", "web3"])
      let json = try #require(
        try JSONSerialization.jsonObject(with: Data(report.jsonString().utf8)) as? [String: Any])
      #expect(json["via"] as? String == "direct")
      let hosts = try #require(json["hosts"] as? [[String: Any]])
      let figures = try #require((hosts[0]["load"] as? [String: Any])?["figures"] as? [String: Any])
      for key in ["requests", "errors", "error_rate", "requests_per_second", "p50_ms", "p95_ms", "p99_ms"] {
        #expect(figures[key] != nil, "missing \(key)")
      }
      #expect(hosts[1]["load"] is NSNull)
    }
  }
}
