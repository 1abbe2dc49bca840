import Foundation
import TestSupport
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

/// Notifications POSTed to a real HTTP server on loopback (busybox httpd with CGI scripts that
/// record what they receive), and to endpoints that are down.
@Suite struct NotifierTests {
  static let digest = String(repeating: "0123456789abcdef", count: 4)
  static let secret = "hunter2-database-password"

  let report: CommandReport = {
    var report = CommandReport(
      command: "deploy", environment: "prod", app: "web", result: .failed,
      release: ReleaseRef(id: "20261130-0150-ab12", image: "registry.example.com/acme/web@sha256:\(digest)"),
      hosts: [
        HostReport(name: "web1", result: .deployed, release: "20261130-0150-ab12", durationMs: 900),
        HostReport(
          name: "web2", result: .rolledBack, release: "20261129-1200-cd34", durationMs: 1200,
          error: "web2: health check failed: postgres://app:\(secret)@db refused"),
      ], error: "web2: health check failed: postgres://app:\(secret)@db refused", durationMs: 83_000)
    return report
  }()

  /// `/cgi-bin/NAME` keeps the body and content type of each POST in `NAME.body`/`NAME.type`.
  func addRecorder(
    _ server: BusyboxHTTPServer, _ name: String, status: String = "200 OK", answer: String = "ok"
  )
    throws
  {
    let dir = server.root.path
    try writeExecutable(
      server.root.url.appendingPathComponent("cgi-bin/\(name)").path,
      """
      #!/bin/sh
      head -c "$CONTENT_LENGTH" > '\(dir)/\(name).body'
      printf '%s' "$CONTENT_TYPE $REQUEST_METHOD" > '\(dir)/\(name).type'
      printf 'Status: \(status)\\r\\nContent-Type: text/plain\\r\\n\\r\\n\(answer)'

      """)
  }

  func received(_ server: BusyboxHTTPServer, _ name: String) throws -> (body: String, type: String) {
    (
      try String(contentsOfFile: "\(server.root.path)/\(name).body", encoding: .utf8),
      try String(contentsOfFile: "\(server.root.path)/\(name).type", encoding: .utf8)
    )
  }

  @Test func slackGetsAReadableMessageAndTheWebhookTheDocument() async throws {
    try await withHTTPServer { server in
      try addRecorder(server, "slack")
      try addRecorder(server, "hook")
      let urls = ["SLACK_URL": server.url("/cgi-bin/slack"), "HOOK_URL": server.url("/cgi-bin/hook")]
      let notifier = Notifier(
        targets: [.slack(webhookSecret: "SLACK_URL"), .webhook(urlSecret: "HOOK_URL")], urls: urls,
        secrets: [Self.secret])
      let message = NotificationMessage(report: report, tag: "v2", user: "alice")
      let results = await notifier.send(message, report: report.jsonString())
      #expect(results.map(\.name) == ["slack", "webhook"])
      #expect(results.map(\.result) == [.sent, .sent])
      #expect(results.map(\.error) == [nil, nil])

      let slack = try received(server, "slack")
      #expect(slack.type == "application/json POST")
      let payload = try #require(
        try JSONSerialization.jsonObject(with: Data(slack.body.utf8)) as? [String: String])
      #expect(
        payload["text"] == """
          *deploy web to prod: failed*
          release 20261130-0150-ab12 · tag v2 · sha256:0123456789ab
          hosts: 1 done (web1), 1 failed (web2)
          error: web2: health check failed: postgres://app:***@db refused
          by alice in 1m 23s
          """)

      let hook = try received(server, "hook")
      #expect(hook.type == "application/json POST")
      #expect(!hook.body.contains(Self.secret))
      let document = try #require(
        try JSONSerialization.jsonObject(with: Data(hook.body.utf8)) as? [String: Any])
      #expect(document["command"] as? String == "deploy")
      #expect(document["result"] as? String == "failed")
      #expect((document["release"] as? [String: Any])?["id"] as? String == "20261130-0150-ab12")
      #expect(document["error"] as? String == "web2: health check failed: postgres://app:***@db refused")
    }
  }

  @Test func anEndpointThatRefusesIsAWarning() async throws {
    try await withHTTPServer { server in
      try addRecorder(server, "gone", status: "404 Not Found", answer: "no_service")
      let closed = try LoopbackSocket(listening: false)
      let downURL = "http://127.0.0.1:\(closed.port)/services/T000/B000/XXXX"
      let notifier = Notifier(
        targets: [.slack(webhookSecret: "DOWN"), .webhook(urlSecret: "GONE")],
        urls: ["DOWN": downURL, "GONE": server.url("/cgi-bin/gone")])
      let results = await notifier.send(
        NotificationMessage(report: report, tag: nil, user: "bob"), report: "{}")
      #expect(results.map(\.result) == [.failed, .failed])
      #expect(results[0].error?.hasPrefix("slack could not be reached: connection refused") == true)
      #expect(results[0].error?.contains("/services/T000") == false)
      #expect(results[1].error == "webhook answered HTTP 404: no_service")
      #expect(
        results[1].warning == "warning: webhook notification not sent: webhook answered HTTP 404: no_service")
    }
  }

  @Test func anEndpointThatNeverAnswersEndsAtTheLimit() async throws {
    let silent = try LoopbackSocket(listening: true)
    let notifier = Notifier(
      targets: [.webhook(urlSecret: "HOOK")], urls: ["HOOK": "http://127.0.0.1:\(silent.port)/hook"],
      timeout: .milliseconds(500))
    let results = await notifier.send(
      NotificationMessage(report: report, tag: nil, user: "bob"), report: "{}")
    #expect(results.count == 1)
    #expect(results[0].result == .failed)
    #expect(results[0].error?.hasPrefix("webhook could not be reached: timed out") == true)
  }

  @Test func aMissingURLSecretRefusesTheRun() throws {
    let targets: [NotifyTarget] = [.slack(webhookSecret: "SLACK_URL"), .webhook(urlSecret: "HOOK_URL")]
    #expect(
      try targets.secretValues(in: ["SLACK_URL": "http://x", "HOOK_URL": "http://y", "OTHER": "z"])
        == ["SLACK_URL": "http://x", "HOOK_URL": "http://y"])
    do {
      _ = try targets.secretValues(in: ["OTHER": "z"])
      Issue.record("expected a refusal")
    } catch let error as RolloutError {
      #expect(error.exitStatus == .refused)
      #expect(
        error.description
          == "secrets SLACK_URL, HOOK_URL not set: export them in deployctl's environment (values are never read from files)"
      )
    }
  }

  @Test func resultsAsJSON() throws {
    let result = NotificationResult(name: "slack", result: .sent, durationMs: 31, error: nil)
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(result.jsonString().utf8)) as? [String: Any])
    #expect(json["name"] as? String == "slack")
    #expect(json["result"] as? String == "sent")
    #expect(json["duration_ms"] as? Int == 31)
    #expect(json["error"] is NSNull)
  }
}
