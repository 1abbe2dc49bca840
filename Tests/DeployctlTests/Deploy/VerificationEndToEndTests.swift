import DeployConfig
import DeployEngine
import DeployKit
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Verified promotion end to end (docs/configuration.md "Verification", "Hooks", "Notifications"): the real
/// binary against the testbed's hosts. `verify:` runs after the last batch and a failure rolls
/// every host back; `verified` lands in each host's release record; `promote_requires: verified`
/// reads it; the three hooks get the documented variables; notifications reach a real HTTP
/// server on loopback.
@Suite("Verification, hooks and notifications end to end", .enabled(if: Testbed.isAvailable))
struct VerificationEndToEndTests {
  /// The scenario's plan with a quick health check, plus `extra` top-level YAML (`verify:`,
  /// `hooks:`, `notify:`) and optional container lines.
  func writePlan(_ s: Scenario, container: String = "", _ extra: String = "") throws {
    let plan = """
      app: \(s.app)
      image: \(s.testbed.image)
      container:
        ports: ["\(s.port):8080"]
        stop_timeout: 5s
      \(container)
      health:
        http: {port: \(s.port), path: /healthz, expect: 200}
        via: ssh
        interval: 300ms
        timeout: 1s
        retries: 4
        start_period: 1s
      rollout:
        batch: 1
        max_failures: 0
      rollback:
        auto: true

      """
    try (plan + extra + "\n").write(toFile: s.playbooks + "/\(s.app).yml", atomically: true, encoding: .utf8)
  }

  /// The release record `id` as the host keeps it, as JSON.
  func record(_ s: Scenario, _ host: Testbed.Host, _ environment: String, _ id: String) async throws
    -> [String: Any]
  {
    let text = try await s.testbed.sshChecked(
      host, "cat /var/lib/deployctl/\(s.app)/releases/\(environment)/\(id).json")
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
      throw TestFailure("\(host.name): release record \(id) is not a JSON object:\n\(text)")
    }
    return object
  }

  func current(_ s: Scenario, _ host: Testbed.Host, _ environment: String) async throws -> String {
    try await s.testbed.sshChecked(host, "cat /var/lib/deployctl/\(s.app)/releases/\(environment)/current")
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  // MARK: 1. Smoke checks

  @Test(
    "a release whose /version smoke check fails is rolled back on every host (exit 1); passes are recorded")
  func failingSmokeCheckRollsBackEverywhere() async throws {
    try await Scenario.with { s in
      try writePlan(
        s,
        """
        verify:
          via: ssh
          smoke:
            - {port: \(s.port), path: /version, expect: 200, contains: "v1"}
        """)
      let hosts = s.hosts("prod")
      #expect(hosts.count == 2)

      let first = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      #expect(first.status == 0, "\(first.stderr)")
      let v1 = try #require(try first.report.release?.id)
      let passed = try #require(try first.report.verification)
      #expect(passed.passed)
      #expect(passed.hosts.map(\.name).sorted() == ["prod-1", "prod-2"])
      #expect(passed.hosts.allSatisfy { $0.passed && $0.smoke.count == 1 && $0.smoke[0].status == 200 })
      // Progress names each host once: `… prod-1 verify: verified: smoke 1/1`.
      #expect(first.stderr.contains(" prod-1 verify: verified: smoke 1/1"), "\(first.stderr)")
      for host in hosts {
        let record = try await record(s, host, "prod", v1)
        #expect(record["verified"] as? Bool == true, "\(host.name): \(record)")
        #expect(record["result"] as? String == "deployed")
      }

      // v2 is healthy (/healthz 200) but its /version says "v2": verification fails after the
      // last batch, and both hosts, healthy on v2 by then, go back to v1.
      let second = try await s.deployctl(["deploy", "prod", "--image", "v2"])
      #expect(second.status == 1, "\(second.stderr)")
      let report = try second.report
      #expect(report.result == .failed)
      let failed = try #require(report.verification)
      #expect(!failed.passed)
      for result in failed.hosts {
        #expect(!result.passed)
        #expect(result.smoke.first?.status == 200)
        #expect(result.smoke.first?.reason.contains("does not contain") == true, "\(result.smoke)")
      }
      #expect(report.hosts.map(\.result) == [.rolledBack, .rolledBack])
      #expect(report.error?.contains("verification failed") == true, "\(report.error ?? "")")
      let v2 = try #require(report.release?.id)
      for host in hosts {
        #expect(try await s.version(on: host) == "v1")
        #expect(try await current(s, host, "prod") == v1)
        let record = try await record(s, host, "prod", v2)
        #expect(record["verified"] as? Bool == false, "\(host.name): \(record)")
        #expect(record["result"] as? String == "rolled_back")
      }
      #expect(second.stderr.contains("verification failed"))
    }
  }

  // MARK: 2. Load test

  @Test("a load test whose p95 limit cannot be met rolls the release back (exit 1)")
  func unmeetableLoadLimitRollsBack() async throws {
    try await Scenario.with { s in
      try writePlan(s)
      let hosts = s.hosts("prod")
      let first = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      #expect(first.status == 0, "\(first.stderr)")
      let v1 = try #require(try first.report.release?.id)

      // p95 below 1ms (the smallest limit the plan takes) cannot be met here: each of the 400
      // requests is a new TCP connection to deployctl's port-forward, a new SSH channel that the
      // host's one sshd process must open (a round trip, and sshd connects on to docker-proxy),
      // then a busybox httpd that forks per connection, and back the same way. With 40 in
      // flight, Little's law asks for over 40,000 requests/s through that chain for a mean under
      // 1ms, on 2 cores that also run sshd, dockerd and the test (measured here: about 200-800
      // requests/s, p50 10-80ms, p95 50ms-1s). Errors are allowed (100%), so the latency limit
      // is the one that fails.
      try writePlan(
        s,
        """
        verify:
          load: {port: \(s.port), path: /version, requests: 400, concurrency: 40, max_error_rate: 100%, p95: 1ms}
        """)
      let run = try await s.deployctl(["deploy", "prod", "--image", "v2"])
      #expect(run.status == 1, "\(run.stderr)")
      let verification = try #require(try run.report.verification)
      #expect(!verification.passed)
      #expect(verification.hosts.count == 2)
      for result in verification.hosts {
        let load = try #require(result.load, "\(result.name): no load result")
        #expect(load.figures.requests == 400)
        #expect(load.figures.p95Ms >= 1)
        #expect(!load.verdict.passed)
        #expect(load.verdict.reasons.contains { $0.contains("p95 latency") }, "\(load.verdict.reasons)")
      }
      #expect(try run.hosts.map(\.result) == [.rolledBack, .rolledBack])
      for host in hosts {
        #expect(try await s.version(on: host) == "v1")
        #expect(try await current(s, host, "prod") == v1)
      }
    }
  }

  // MARK: 3. promote_requires: verified

  @Test("promote_requires: verified refuses an unverified staging release (exit 2) and takes a verified one")
  func promoteRequiresVerified() async throws {
    try await Scenario.with { s in
      try writePlan(s)
      let staging = try #require(s.hosts("staging").first)
      let prod = s.hosts("prod")
      let inventory = s.inventories + "/prod.yml"
      let text = try String(contentsOfFile: inventory, encoding: .utf8)
      try text.replacingOccurrences(
        of: "promote_from: staging", with: "promote_from: staging\npromote_requires: verified"
      )
      .write(toFile: inventory, atomically: true, encoding: .utf8)
      #expect(try String(contentsOfFile: inventory, encoding: .utf8).contains("promote_requires: verified"))

      // Without `verify:`, staging's release is not verified: prod refuses it.
      let unverified = try await s.deployctl(["deploy", "staging", "--image", "v1"])
      #expect(unverified.status == 0, "\(unverified.stderr)")
      let v1 = try #require(try unverified.report.release?.id)
      #expect(try await record(s, staging, "staging", v1)["verified"] == nil)
      let refused = try await s.deployctl(["promote", "staging", "prod"])
      #expect(refused.status == 2, "\(refused.stderr)")
      #expect(try refused.report.result == .refused)
      let error = try refused.report.error ?? ""
      #expect(error.contains("staging-1"), "\(error)")
      #expect(error.contains("not verified"), "\(error)")
      for host in prod { #expect(try await s.version(on: host) == "") }

      // With `verify:`, a release that passes is recorded verified and prod takes it.
      try writePlan(
        s,
        """
        verify:
          smoke:
            - {port: \(s.port), path: /version, expect: 200, contains: "v"}
          load: {port: \(s.port), path: /healthz, requests: 50, concurrency: 5}
        """)
      let verified = try await s.deployctl(["deploy", "staging", "--image", "v2"])
      #expect(verified.status == 0, "\(verified.stderr)")
      let v2 = try #require(try verified.report.release?.id)
      let figures = try #require(try verified.report.verification?.hosts.first?.load?.figures)
      #expect(figures.requests == 50 && figures.errors == 0)
      #expect(try await record(s, staging, "staging", v2)["verified"] as? Bool == true)

      let promoted = try await s.deployctl(["promote", "staging", "prod"])
      #expect(promoted.status == 0, "\(promoted.stderr)")
      #expect(try promoted.report.verification?.passed == true)
      let release = try #require(try promoted.report.release?.id)
      for host in prod {
        #expect(try await s.version(on: host) == "v2")
        #expect(try await record(s, host, "prod", release)["verified"] as? Bool == true)
      }
    }
  }

  // MARK: 4. Hooks

  /// A hook script that dumps its environment (and a copy of `$DEPLOYCTL_REPORT`, while it
  /// exists) into `folder`, appends its name to `runs.log`, and exits `status`.
  func writeHook(_ folder: String, _ name: String, status: Int = 0, extra: String = "") throws -> String {
    let path = folder + "/" + name
    let script = """
      #!/bin/sh
      env > '\(folder)/\(name).env'
      echo '\(name)' >> '\(folder)/runs.log'
      if [ -n "$DEPLOYCTL_REPORT" ]; then cp "$DEPLOYCTL_REPORT" '\(folder)/\(name).report.json'; fi
      \(extra)
      echo "\(name) says hello"
      exit \(status)

      """
    try script.write(toFile: path, atomically: true, encoding: .utf8)
    guard chmod(path, 0o755) == 0 else { throw TestFailure("chmod \(path) failed") }
    return path
  }

  /// `NAME=value` lines of an `env` dump.
  func variables(_ file: String) throws -> [String: String] {
    let text = try String(contentsOfFile: file, encoding: .utf8)
    var values: [String: String] = [:]
    for line in text.split(separator: "\n") {
      guard let equals = line.firstIndex(of: "="), line.hasPrefix("DEPLOYCTL_") else { continue }
      values[String(line[..<equals])] = String(line[line.index(after: equals)...])
    }
    return values
  }

  func remove(_ folder: String, _ names: [String]) {
    for name in names { try? FileManager.default.removeItem(atPath: folder + "/" + name) }
  }

  @Test(
    "pre_deploy, post_deploy and on_failure run with the documented variables; a failing pre_deploy refuses (exit 2)"
  )
  func hooksRunWithTheirVariables() async throws {
    try await Scenario.with { s in
      let folder = s.dir.appendingPathComponent("hooks").path
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
      let hosts = s.hosts("prod")
      // pre_deploy also records what each host serves at that moment: it runs before any change.
      let probe = hosts.map {
        "busybox wget -qO- http://\($0.address):\(s.port)/version >> '\(folder)/pre-saw' 2>/dev/null; echo >> '\(folder)/pre-saw'"
      }.joined(separator: "\n")
      let pre = try writeHook(folder, "pre", extra: probe)
      let post = try writeHook(folder, "post")
      let failure = try writeHook(folder, "failure")
      let hooks = """
        hooks:
          pre_deploy: ["\(pre)"]
          post_deploy: ["\(post)", "--flag"]
          on_failure: ["\(failure)"]
          timeout: 1m
        """
      try writePlan(s, hooks)
      // Who runs deployctl: USER, with DEPLOYCTL_USER and the CI actors empty (unset).
      let user = "e2e-alice"
      let env = ["DEPLOYCTL_USER": "", "GITHUB_ACTOR": "", "GITLAB_USER_LOGIN": "", "USER": user]

      let first = try await s.deployctl(["deploy", "prod", "--image", "v1"], environment: env)
      #expect(first.status == 0, "\(first.stderr)")
      let v1 = try #require(try first.report.release)

      let second = try await s.deployctl(["deploy", "prod", "--image", "v2"], environment: env)
      #expect(second.status == 0, "\(second.stderr)")
      let report = try second.report
      let v2 = try #require(report.release)
      #expect(report.hooks.map(\.name) == [.preDeploy, .postDeploy])
      #expect(report.hooks.allSatisfy { $0.result == .ok && $0.exitStatus == 0 })
      #expect(second.stderr.contains("hook pre_deploy: pre says hello"))
      #expect(second.stderr.contains("hook post_deploy: post says hello"))
      // Each hook ran once per deploy, pre before post.
      #expect(try String(contentsOfFile: folder + "/runs.log", encoding: .utf8) == "pre\npost\npre\npost\n")
      // Both hosts still served v1 while pre_deploy ran.
      let saw = try String(contentsOfFile: folder + "/pre-saw", encoding: .utf8)
      #expect(saw.split(separator: "\n").suffix(2) == ["v1", "v1"], "\(saw)")

      let common = [
        "DEPLOYCTL_COMMAND": "deploy", "DEPLOYCTL_ENVIRONMENT": "prod", "DEPLOYCTL_APP": s.app,
        "DEPLOYCTL_RELEASE": v2.id, "DEPLOYCTL_IMAGE": v2.image, "DEPLOYCTL_PREVIOUS_RELEASE": v1.id,
        "DEPLOYCTL_HOSTS": "prod-1,prod-2", "DEPLOYCTL_USER": user,
      ]
      #expect(v2.image.hasPrefix(s.testbed.image + "@sha256:"))
      let preVars = try variables(folder + "/pre.env")
      for (key, value) in common { #expect(preVars[key] == value, "pre_deploy \(key)") }
      for key in ["DEPLOYCTL_RESULT", "DEPLOYCTL_EXIT_CODE", "DEPLOYCTL_REPORT"] {
        #expect(preVars[key] == nil, "pre_deploy should not get \(key)")
      }
      let postVars = try variables(folder + "/post.env")
      for (key, value) in common { #expect(postVars[key] == value, "post_deploy \(key)") }
      #expect(postVars["DEPLOYCTL_RESULT"] == "success")
      #expect(postVars["DEPLOYCTL_EXIT_CODE"] == "0")
      #expect(postVars["DEPLOYCTL_ERROR"] == "")
      #expect(postVars["DEPLOYCTL_REPORT"]?.isEmpty == false)
      // The report file was readable JSON while the hook ran, and is gone afterwards.
      let postReport = try ReportDecoding.decode(
        CommandReport.self, from: String(contentsOfFile: folder + "/post.report.json", encoding: .utf8))
      #expect(postReport.result == .success && postReport.release == v2)
      #expect(postReport.hosts.map(\.result) == [.deployed, .deployed])
      #expect(!FileManager.default.fileExists(atPath: postVars["DEPLOYCTL_REPORT"] ?? "/"))
      let v2Record = try await record(s, hosts[0], "prod", v2.id)
      #expect(v2Record["user"] as? String == user)

      // A release that fails its health check: on_failure, with the result of the run.
      remove(folder, ["failure.env", "failure.report.json", "post.env"])
      let broken = try await s.deployctl(["deploy", "prod", "--image", "broken"], environment: env)
      #expect(broken.status == 1, "\(broken.stderr)")
      #expect(try broken.report.hooks.map(\.name) == [.preDeploy, .onFailure])
      #expect(!FileManager.default.fileExists(atPath: folder + "/post.env"))
      let failVars = try variables(folder + "/failure.env")
      #expect(failVars["DEPLOYCTL_RESULT"] == "failed")
      #expect(failVars["DEPLOYCTL_EXIT_CODE"] == "1")
      #expect(failVars["DEPLOYCTL_ERROR"]?.isEmpty == false)
      #expect(failVars["DEPLOYCTL_PREVIOUS_RELEASE"] == v2.id)
      #expect(failVars["DEPLOYCTL_HOSTS"] == "prod-1,prod-2")
      let failReport = try ReportDecoding.decode(
        CommandReport.self, from: String(contentsOfFile: folder + "/failure.report.json", encoding: .utf8))
      #expect(failReport.result == .failed && failReport.exitCode == 1)
      #expect(failReport.release?.id == failVars["DEPLOYCTL_RELEASE"])
      for host in hosts { #expect(try await s.version(on: host) == "v2") }

      // A pre_deploy that fails refuses the run before any host changes: exit 2, no on_failure.
      let refusing = try writeHook(folder, "pre-refuses", status: 3, extra: "echo 'migrations pending' >&2")
      try writePlan(s, hooks.replacingOccurrences(of: "[\"\(pre)\"]", with: "[\"\(refusing)\"]"))
      remove(folder, ["failure.env", "post.env"])
      var before: [String] = []
      for host in hosts {
        before.append(
          try await s.testbed.sshChecked(
            host,
            "docker ps -q --no-trunc --filter label=deployctl.app=\(s.app); ls /var/lib/deployctl/\(s.app)/releases/prod"
          ))
      }
      let refused = try await s.deployctl(["deploy", "prod", "--image", "v3"], environment: env)
      #expect(refused.status == 2, "\(refused.stderr)")
      let refusedReport = try refused.report
      #expect(refusedReport.result == .refused)
      #expect(refusedReport.error?.contains("pre_deploy") == true, "\(refusedReport.error ?? "")")
      #expect(refusedReport.hooks.count == 1)
      #expect(refusedReport.hooks.first?.name == .preDeploy)
      #expect(refusedReport.hooks.first?.result == .failed)
      #expect(refusedReport.hooks.first?.exitStatus == 3)
      #expect(refused.stderr.contains("hook pre_deploy: migrations pending"))
      #expect(try variables(folder + "/pre-refuses.env")["DEPLOYCTL_PREVIOUS_RELEASE"] == v2.id)
      #expect(!FileManager.default.fileExists(atPath: folder + "/failure.env"))
      #expect(!FileManager.default.fileExists(atPath: folder + "/post.env"))
      for (i, host) in hosts.enumerated() {
        let after = try await s.testbed.sshChecked(
          host,
          "docker ps -q --no-trunc --filter label=deployctl.app=\(s.app); ls /var/lib/deployctl/\(s.app)/releases/prod"
        )
        #expect(after == before[i], "\(host.name) changed")
        #expect(try await s.version(on: host) == "v2")
        #expect(try await current(s, host, "prod") == v2.id)
      }
      // The lock was released: the next run goes ahead.
      try writePlan(s)
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v3"]).status == 0)
    }
  }

  // MARK: 5. Notifications

  @Test(
    "Slack and webhook notifications reach a real HTTP server, secrets masked; a down endpoint only warns")
  func notificationsAreReceived() async throws {
    try await Scenario.with { s in
      try await withRecorder { recorder in
        let secret = "e2e-db-secret-\(UUID().uuidString.prefix(8))"
        let token = "e2e-token-\(UUID().uuidString.prefix(8))"
        let slackURL = recorder.url("/cgi-bin/slack?token=\(token)")
        let hookURL = recorder.url("/cgi-bin/hook?token=\(token)")
        // The container prints its secrets to its log (an app logging its configuration), so a
        // failed health check's log tail carries them into the error that is sent: they must
        // arrive masked.
        try writePlan(
          s,
          container: """
              secrets: [DB_PASSWORD, DEPLOY_WEBHOOK_URL]
              command: ["/bin/sh", "-c", "echo \\"db=$DB_PASSWORD hook=$DEPLOY_WEBHOOK_URL\\"; exec /bin/sh /start.sh"]
            """,
          """
          notify:
            - slack: {webhook_secret: SLACK_WEBHOOK_URL}
            - webhook: {url_secret: DEPLOY_WEBHOOK_URL}
          """)
        var env = [
          "DB_PASSWORD": secret, "SLACK_WEBHOOK_URL": slackURL, "DEPLOY_WEBHOOK_URL": hookURL,
          "DEPLOYCTL_USER": "e2e-bob",
        ]
        func checkMasked(_ text: String, _ what: String) {
          #expect(!text.contains(secret), "\(what) holds the container secret:\n\(text)")
          #expect(!text.contains(token), "\(what) holds the webhook URL's token:\n\(text)")
          #expect(!text.contains(hookURL) && !text.contains(slackURL), "\(what) holds a webhook URL")
        }

        // A good deploy: both sent.
        let good = try await s.deployctl(["deploy", "prod", "--image", "v1"], environment: env)
        #expect(good.status == 0, "\(good.stderr)")
        let goodReport = try good.report
        let v1 = try #require(goodReport.release)
        #expect(goodReport.notifications.map(\.name) == ["slack", "webhook"])
        #expect(goodReport.notifications.allSatisfy { $0.result == .sent && $0.error == nil })
        #expect(recorder.count("slack") == 1 && recorder.count("hook") == 1)
        let slack = try recorder.json("slack")
        let text = try #require(slack["text"] as? String, "\(slack)")
        for word in ["prod", s.app, v1.id, "success", "v1", "prod-1", "e2e-bob"] {
          #expect(text.contains(word), "Slack text lacks \(word):\n\(text)")
        }
        #expect(try recorder.type("slack") == "application/json POST")
        let posted = try ReportDecoding.decode(CommandReport.self, from: recorder.body("hook"))
        #expect(posted.command == "deploy" && posted.environment == "prod" && posted.app == s.app)
        #expect(posted.result == .success && posted.release == v1)
        #expect(posted.hosts.map(\.name) == goodReport.hosts.map(\.name))
        #expect(posted.hosts.map(\.result) == [.deployed, .deployed])

        // A release that fails: both sent, saying so, with the container's secrets masked.
        recorder.reset()
        let bad = try await s.deployctl(["deploy", "prod", "--image", "broken"], environment: env)
        #expect(bad.status == 1, "\(bad.stderr)")
        #expect(try bad.report.notifications.map(\.result) == [.sent, .sent])
        let badSlack = try #require(try recorder.json("slack")["text"] as? String)
        #expect(badSlack.contains("failed"), "\(badSlack)")
        let badPosted = try recorder.body("hook")
        let badDocument = try ReportDecoding.decode(CommandReport.self, from: badPosted)
        #expect(badDocument.result == .failed && badDocument.exitCode == 1)
        // The log tail with the masked line did reach the document, so the check below means something.
        #expect(badPosted.contains("db=***"), "\(badPosted)")
        checkMasked(badSlack, "the Slack message")
        checkMasked(badPosted, "the webhook body")
        checkMasked(bad.stdout, "deployctl's JSON")
        checkMasked(bad.stderr, "deployctl's progress")

        // --dry-run sends nothing.
        recorder.reset()
        let dry = try await s.deployctl(["deploy", "prod", "--image", "v2", "--dry-run"], environment: env)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(try dry.report.notifications.isEmpty)
        #expect(recorder.count("slack") == 0 && recorder.count("hook") == 0)

        // Slack down (a port that refuses connections): a warning, the exit code stays 0 and the
        // webhook still goes out. The same with a failing run: exit 1 stays 1.
        let closed = try LoopbackSocket(listening: false)
        env["SLACK_WEBHOOK_URL"] = "http://127.0.0.1:\(closed.port)/slack?token=\(token)"
        recorder.reset()
        let down = try await s.deployctl(["deploy", "prod", "--image", "v2"], environment: env)
        #expect(down.status == 0, "\(down.stderr)")
        let downReport = try down.report
        #expect(downReport.result == .success)
        #expect(downReport.notifications.map(\.result) == [.failed, .sent])
        #expect(downReport.notifications.first?.error?.isEmpty == false)
        #expect(down.stderr.contains("warning"), "\(down.stderr)")
        #expect(recorder.count("hook") == 1)
        checkMasked(down.stdout + down.stderr, "deployctl's output with Slack down")
        let downFailing = try await s.deployctl(["deploy", "prod", "--image", "broken"], environment: env)
        #expect(downFailing.status == 1, "\(downFailing.stderr)")
        #expect(try downFailing.report.notifications.first?.result == .failed)
        for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v2") }
        _ = closed
      }
    }
  }
}

// MARK: - A recording HTTP server on loopback

/// busybox httpd on 127.0.0.1 (busybox-static is on every testbed machine and in CI's packages)
/// with a CGI script per name that keeps the last POST's body and content type and counts the
/// requests. Started by the test and stopped by its PID.
final class RecordingServer: Sendable {
  let root: String
  let port: Int
  private let process: ChildProcess

  private init(root: String, port: Int, process: ChildProcess) {
    self.root = root
    self.port = port
    self.process = process
  }

  static func start(names: [String]) async throws -> RecordingServer {
    let root = try makeTemporaryDirectory("deployctl-recorder")
    do {
      try FileManager.default.createDirectory(atPath: root + "/cgi-bin", withIntermediateDirectories: true)
      for name in names {
        let script = """
          #!/bin/sh
          head -c "$CONTENT_LENGTH" > '\(root)/\(name).body'
          printf '%s' "$CONTENT_TYPE $REQUEST_METHOD" > '\(root)/\(name).type'
          echo x >> '\(root)/\(name).count'
          printf 'Status: 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nok'

          """
        let path = root + "/cgi-bin/" + name
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        guard chmod(path, 0o755) == 0 else { throw TestFailure("chmod \(path) failed") }
      }
      let busybox = ["/bin/busybox", "/usr/bin/busybox"].first {
        FileManager.default.isExecutableFile(atPath: $0)
      }
      guard let busybox else { throw TestFailure("busybox not found; install busybox-static (make setup)") }
      for _ in 0..<5 {
        let port = try LoopbackSocket(listening: false).port
        let process = try ChildProcess.spawn(busybox, ["httpd", "-f", "-p", "127.0.0.1:\(port)", "-h", root])
        if await eventually(timeout: .seconds(5), { !process.isRunning || loopbackPortAnswers(port) }),
          process.isRunning
        {
          return RecordingServer(root: root, port: port, process: process)
        }
        await process.stop()
      }
      throw TestFailure("busybox httpd did not start on 127.0.0.1")
    } catch {
      try? FileManager.default.removeItem(atPath: root)
      throw error
    }
  }

  func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

  func count(_ name: String) -> Int {
    ((try? String(contentsOfFile: "\(root)/\(name).count", encoding: .utf8)) ?? "").split(separator: "\n")
      .count
  }

  func body(_ name: String) throws -> String {
    try String(contentsOfFile: "\(root)/\(name).body", encoding: .utf8)
  }

  func type(_ name: String) throws -> String {
    try String(contentsOfFile: "\(root)/\(name).type", encoding: .utf8)
  }

  func json(_ name: String) throws -> [String: Any] {
    let text = try body(name)
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
      throw TestFailure("\(name) received no JSON object:\n\(text)")
    }
    return object
  }

  /// Forgets what was received.
  func reset() {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
    where name.hasSuffix(".body") || name.hasSuffix(".type") || name.hasSuffix(".count") {
      try? FileManager.default.removeItem(atPath: root + "/" + name)
    }
  }

  func stop() async {
    await process.stop()
    try? FileManager.default.removeItem(atPath: root)
  }
}

func withRecorder<T>(_ body: (RecordingServer) async throws -> T) async throws -> T {
  let server = try await RecordingServer.start(names: ["slack", "hook"])
  do {
    let result = try await body(server)
    await server.stop()
    return result
  } catch {
    await server.stop()
    throw error
  }
}
