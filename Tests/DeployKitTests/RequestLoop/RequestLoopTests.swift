import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `request-loop` (Sources/request-loop), the load the zero-downtime tests, benchmark and demo
/// run, against real loopback servers: busybox httpd, and sockets that refuse or never answer.
@Suite("Request loop")
struct RequestLoopTests {
  @Test("answers are counted by status and body, and none is a failure")
  func countsAnswers() async throws {
    try await withHTTPServer { server in
      let (_, report) = try await RequestLoop.around([server.url("/healthz")], rate: 100) {
        try await Task.sleep(for: .milliseconds(300))
      }
      let summary = try #require(report.urls.first)
      #expect(report.stoppedBy == "until_file")
      #expect(summary.url == server.url("/healthz"))
      #expect(summary.requests > 0)
      #expect(summary.failures == 0, "\(summary.failuresByKind)")
      #expect(summary.ok == summary.requests)
      #expect(summary.statuses == ["200": summary.requests])
      #expect(summary.bodies == [BusyboxHTTPServer.healthzBody: summary.requests])
      #expect(summary.latencyMs.p50 <= summary.latencyMs.p99)
      #expect(summary.latencyMs.p99 <= summary.latencyMs.max)
      #expect(summary.latencyMs.p99 <= summary.latencyMs.worstSecondP99)
      #expect(summary.latencyMs.worstSecondP99 <= summary.latencyMs.max)
      #expect(report.total.requests == summary.requests)
    }
  }

  @Test("a refused connection is a failure of its own kind, and the URL's gap is the whole run")
  func countsRefusedConnections() async throws {
    try await withHTTPServer { server in
      let closed = try LoopbackSocket(listening: false)
      let refusedURL = "http://127.0.0.1:\(closed.port)/"
      let (_, report) = try await RequestLoop.around([server.url("/healthz"), refusedURL], rate: 50) {
        try await Task.sleep(for: .milliseconds(300))
      }
      try #require(report.urls.count == 2)
      let (answering, refused) = (report.urls[0], report.urls[1])
      #expect(answering.failures == 0)
      #expect(refused.url == refusedURL)
      #expect(refused.requests > 0)
      #expect(refused.ok == 0)
      #expect(refused.failuresByKind == ["refused": refused.requests])
      #expect(refused.statuses.isEmpty && refused.bodies.isEmpty)
      #expect(abs(refused.longestGapMs - report.durationSeconds * 1000) < 0.1)
      #expect(report.total.requests == answering.requests + refused.requests)
      #expect(report.total.failures == refused.requests)
      #expect(report.total.failuresByKind == ["refused": refused.requests])
    }
  }

  @Test("5xx answers and requests that get no answer in time are failures")
  func countsServerErrorsAndTimeouts() async throws {
    try await withHTTPServer { server in
      let silent = try LoopbackSocket(listening: true)
      let (_, report) = try await RequestLoop.around(
        [server.url("/cgi-bin/fail"), silent.url], rate: 10, timeout: .seconds(1), timeline: true
      ) {
        try await Task.sleep(for: .milliseconds(300))
      }
      try #require(report.urls.count == 2)
      let (failing, silentSummary) = (report.urls[0], report.urls[1])
      #expect(failing.requests > 0)
      #expect(failing.failuresByKind == ["http_5xx": failing.requests])
      #expect(failing.statuses == ["500": failing.requests])
      #expect(failing.bodies == ["database down\n": failing.requests])
      #expect(silentSummary.requests > 0)
      #expect(silentSummary.failuresByKind == ["timeout": silentSummary.requests])
      let timeline = try #require(report.total.timeline)
      #expect(timeline.reduce(0) { $0 + $1.failed } == report.total.requests)
      #expect(timeline.allSatisfy { $0.ok == 0 && $0.startMs % 100 == 0 })
    }
  }

  @Test("SIGINT or SIGTERM stops it, and it still prints its report", arguments: [SIGINT, SIGTERM])
  func stopsOnSignal(_ signal: Int32) async throws {
    try await withHTTPServer { server in
      let program = try RunningProgram.start(
        try RequestLoop.binary(),
        ["--url", server.url("/healthz"), "--rate", "20", "--duration", "60s", "--output", "json"])
      try await Task.sleep(for: .milliseconds(300))
      program.process.signal(signal)
      let finished = await program.finish(timeout: .seconds(10))
      #expect(finished.status == 0, "\(finished.stderr)")
      let report = try RequestLoopReport.decode(finished.stdout)
      #expect(report.stoppedBy == "signal")
      #expect(report.total.requests > 0)
    }
  }

  @Test("--duration bounds it; text output names every URL")
  func stopsAfterDuration() async throws {
    try await withHTTPServer { server in
      let finished = try await runCapturing(
        try RequestLoop.binary(), ["--url", server.url("/healthz"), "--rate", "20", "--duration", "200ms"],
        timeout: .seconds(20))
      #expect(finished.status == 0, "\(finished.stderr)")
      #expect(finished.stdout.contains("\(server.url("/healthz")): "))
      #expect(finished.stdout.contains("0 failed"))
      #expect(finished.stdout.contains("stopped by duration"))
    }
  }

  @Test("bad arguments are refused, saying which")
  func refusesBadArguments() async throws {
    let noURL = try await runCapturing(try RequestLoop.binary(), ["--rate", "10"], timeout: .seconds(20))
    #expect(noURL.status != 0)
    let badDuration = try await runCapturing(
      try RequestLoop.binary(), ["--url", "http://127.0.0.1:1/", "--duration", "soon"], timeout: .seconds(20))
    #expect(badDuration.status != 0)
    #expect(badDuration.stderr.contains("'soon' is not a duration"), "\(badDuration.stderr)")
  }
}
