import DeployKit
import Foundation
import Testing

/// What a CI job relies on: one test per exit code (docs/exit-codes.md), a JSON document on stdout for
/// every command (also when it fails), GitHub Actions annotations and step summary, and plain
/// timestamped progress lines when stderr is not a terminal.
@Suite("Exit codes, JSON and CI output end to end", .enabled(if: Testbed.isAvailable))
struct CIOutputTests {
  @Test("exit 0: every host runs the release, healthy; progress is one timestamped line per event")
  func exitZero() async throws {
    try await Scenario.with { s in
      let run = try await s.deployctl(["deploy", "prod", "--image", "v1"], json: false)
      #expect(run.status == 0, "\(run.stderr)")
      #expect(!run.stderr.contains("\u{1B}["), "no colours or cursor movement without a terminal")
      let events = run.stderr.split(separator: "\n").filter {
        $0.contains("prod-1 ") || $0.contains("prod-2 ")
      }
      #expect(!events.isEmpty)
      for line in events where !line.hasPrefix("prod-") {
        #expect(
          line.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "#, options: .regularExpression) != nil,
          "\(line)")
      }
      #expect(run.stderr.contains("HOST"), "the summary table")
      #expect(run.stderr.contains("deploy prod: success"))
    }
  }

  @Test("exit 1: the release fails its health check and every host is back on the previous one")
  func exitOne() async throws {
    try await Scenario.with { s in
      #expect(try await s.deployctl(["deploy", "staging", "--image", "v1"]).status == 0)
      let run = try await s.deployctl(["deploy", "staging", "--image", "broken"])
      #expect(run.status == 1)
      #expect(try run.report.exitCode == 1)
      #expect(try run.report.result == .failed)
      for host in s.hosts("staging") { #expect(try await s.version(on: host) == "v1") }
    }
  }

  @Test("exit 2: bad arguments, an invalid file (file:line:col), an unknown environment; JSON says refused")
  func exitTwo() async throws {
    try await Scenario.with { s in
      let badArgument = try await s.deployctl(["deploy", "prod", "--image", "v1", "--parallel", "0"])
      #expect(badArgument.status == 2)
      #expect(try badArgument.report.result == .refused, "\(badArgument.stdout)")
      let unknownOption = try await s.deployctl(["deploy", "prod", "--imag", "v1"])
      #expect(unknownOption.status == 2)
      #expect(try unknownOption.report.exitCode == 2, "\(unknownOption.stdout)")
      let unknownEnvironment = try await s.deployctl(["deploy", "qa", "--image", "v1"])
      #expect(unknownEnvironment.status == 2)
      #expect(try (unknownEnvironment.report.error ?? "").contains("qa"))

      try s.appendToPlan("rollout:\n  batch: lots\n")
      let invalid = try await s.deployctl(["deploy", "prod", "--image", "v1"], json: false)
      #expect(invalid.status == 2)
      #expect(
        invalid.stderr.range(of: #"\#(s.app)\.yml:\d+:\d+: error: "#, options: .regularExpression) != nil,
        "\(invalid.stderr)")
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "", "nothing was touched") }
    }
  }

  @Test("exit 3: a host that cannot be put back is named, and the run says a person must look", .tags(.long))
  func exitThree() async throws {
    var options = Scenario.Options()
    options.retries = 30
    options.interval = "500ms"
    try await Scenario.with(options) { s in
      let staging = try #require(s.hosts("staging").first)
      #expect(try await s.deployctl(["deploy", "staging", "--image", "v1"]).status == 0)
      let broken = try await s.start(["deploy", "staging", "--image", "broken"])
      // While the broken release fails its health checks, the host's Docker engine stops:
      // the previous release cannot be re-created.
      try await broken.waitForOutput("\(staging.name) health")
      try await s.testbed.stopEngine(staging)
      do {
        let run = try await broken.finish()
        try await s.testbed.startEngine(staging)
        #expect(run.status == 3, "\(run.stderr)")
        #expect(try run.report.result == .needsAttention)
        #expect(try run.report.exitCode == 3)
        #expect(try run.host(staging.name)?.result == .restoreFailed)
        #expect(run.stderr.contains("\(staging.name): "), "the output names the host")
        let audit = try await s.testbed.sshChecked(staging, "cat /var/lib/deployctl/\(s.app)/audit.log")
        #expect(audit.contains("needs_attention"))
      } catch {
        try? await s.testbed.startEngine(staging)
        throw error
      }
    }
  }

  @Test("exit 4: a lock left by a crashed run names its holder; lock release --force frees it")
  func exitFour() async throws {
    try await Scenario.with { s in
      let holder =
        #"{"command":"deploy staging --image v9","host":"ci-runner-7","pid":4242,"#
        + #""started_at":"2026-11-21T10:00:00.000Z","token":"left-by-a-crash","user":"bob"}"#
      for host in s.hosts("staging") {
        try await s.testbed.sshChecked(
          host,
          "mkdir -p /var/lib/deployctl/\(s.app)/locks/staging.lock && printf '%s\\n' '\(holder)' "
            + "> /var/lib/deployctl/\(s.app)/locks/staging.lock/holder.json")
      }
      let locked = try await s.deployctl(["deploy", "staging", "--image", "v1"])
      #expect(locked.status == 4, "\(locked.stderr)")
      #expect(try locked.report.result == .locked)
      #expect(try (locked.report.error ?? "").contains("bob@ci-runner-7"))
      let status = try await s.deployctl(["lock", "staging", "status"])
      #expect(status.status == 4)
      #expect(status.stdout.contains("bob@ci-runner-7"))
      let refused = try await s.deployctl(["lock", "staging", "release"])
      #expect(refused.status == 2, "breaking a lock needs --force")
      #expect(try await s.deployctl(["lock", "staging", "release", "--force"]).status == 0)
      #expect(try await s.deployctl(["deploy", "staging", "--image", "v1"]).status == 0)
    }
  }

  @Test("--output json: one parseable document on stdout for every command, also when it fails")
  func everyCommandPrintsJSON() async throws {
    try await Scenario.with { s in
      func document(_ arguments: [String], json: Bool = true) async throws -> (Int32, [String: Any]) {
        let run = try await s.deployctl(arguments, json: json)
        let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        return (run.status, try #require(json, "\(arguments): stdout is not one JSON object: \(run.stdout)"))
      }
      let (validate, validated) = try await document(["validate"])
      #expect(validate == 0 && validated["valid"] as? Bool == true, "\(validated)")
      let (deploy, deployed) = try await document(["deploy", "staging", "--image", "v1"])
      #expect(deploy == 0)
      for key in ["command", "environment", "app", "result", "release", "previous_release", "hosts"] {
        #expect(deployed.keys.contains(key), "deploy JSON lacks \(key)")
      }
      let host = try #require((deployed["hosts"] as? [[String: Any]])?.first)
      for key in ["name", "result", "release", "duration_ms", "error"] {
        #expect(host.keys.contains(key), "hosts[] lacks \(key)")
      }
      let (_, promoted) = try await document(["promote", "staging", "prod"])
      #expect(promoted["command"] as? String == "promote" && promoted["result"] as? String == "success")
      let (_, status) = try await document(["status", "prod"])
      let statusHost = try #require((status["hosts"] as? [[String: Any]])?.first)
      for key in ["name", "reachable", "release", "image", "state", "health"] {
        #expect(statusHost.keys.contains(key), "status hosts[] lacks \(key)")
      }
      let (_, history) = try await document(["history", "prod"])
      #expect((history["releases"] as? [Any])?.count == 1)
      let (_, rolledBack) = try await document(["rollback", "prod"])
      #expect(rolledBack["command"] as? String == "rollback")
      #expect(rolledBack["result"] as? String == "refused", "nothing to go back to: \(rolledBack)")
      let (_, lock) = try await document(["lock", "prod", "status"])
      #expect((lock["hosts"] as? [Any])?.count == 2)
      // Options must come before exec's `--` (what follows is the remote command; the
      // folders the helper appends after it are only arguments of `true`).
      let (exec, executed) = try await document(
        [
          "exec", "dev", "--output", "json", "--inventories", s.inventories, "--playbooks", s.playbooks, "--",
          "true",
        ],
        json: false)
      #expect(exec == 0)
      #expect(executed["hosts"] != nil)
      let (failed, refusal) = try await document(["promote", "dev", "prod"])
      #expect(failed == 2 && refusal["result"] as? String == "refused")
      let (missing, missingDoc) = try await document(["status", "nowhere"])
      #expect(missing == 2 && missingDoc["error"] is String)
    }
  }

  @Test("GitHub Actions: ::error:: annotations and a Markdown summary per host in $GITHUB_STEP_SUMMARY")
  func githubActions() async throws {
    try await Scenario.with { s in
      let summary = s.dir.appendingPathComponent("step-summary.md")
      let github = ["GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary.path]
      let good = try await s.deployctl(["deploy", "prod", "--image", "v1"], environment: github)
      #expect(good.status == 0)
      #expect(!good.stderr.contains("::error"))
      let bad = try await s.deployctl(["deploy", "prod", "--image", "broken"], environment: github)
      #expect(bad.status == 1)
      #expect(bad.stderr.contains("::error::"), "\(bad.stderr)")
      #expect(bad.stderr.split(separator: "\n").contains { $0.hasPrefix("::error::prod-1: ") })
      let markdown = try String(contentsOf: summary, encoding: .utf8)
      #expect(markdown.components(separatedBy: "### deployctl deploy prod").count == 3, "\(markdown)")
      #expect(markdown.contains("| host | result | release | time | error |"))
      #expect(markdown.contains("| prod-1 | deployed |"))
      #expect(markdown.contains("| prod-1 | rolled_back |"))
    }
  }
}
