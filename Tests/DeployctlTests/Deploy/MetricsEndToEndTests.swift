import DeployConfig
import DeployEngine
import DeployKit
import Foundation
import TestSupport
import Testing

/// Gates from real metrics end to end (docs/configuration.md "Prometheus analysis",
/// "Notifications"): the real binary against the testbed's hosts, with Debian's Prometheus
/// scraping the test apps' `/cgi-bin/metrics` and Debian's Pushgateway, both on loopback,
/// started and stopped by the tests.
@Suite(
  "Prometheus analysis and the Pushgateway end to end",
  .enabled(if: Testbed.isAvailable && MetricsServer.isAvailable))
struct MetricsEndToEndTests {
  /// The share of 5xx answers of the app over the last 15 s (0 when there are none).
  static let errorRate =
    "(sum(rate(http_requests_total{app=\"${app}\",code=~\"5..\"}[15s])) or vector(0)) / sum(rate(http_requests_total{app=\"${app}\"}[15s]))"

  /// The scenario's plan with a quick health check, a smoke check that `/healthz` answers, and
  /// `extra` top-level YAML.
  func writePlan(_ s: Scenario, _ extra: String) throws {
    let plan = """
      app: \(s.app)
      image: \(s.testbed.image)
      container:
        ports: ["\(s.port):8080"]
        stop_timeout: 5s
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

  /// `verify:` with the smoke check and a Prometheus analysis of `query` at `url`.
  func verify(_ s: Scenario, url: String, query: String, max: String = "0.1", failureLimit: Int = 1) -> String
  {
    """
    verify:
      via: ssh
      smoke:
        - {port: \(s.port), path: /healthz, expect: 200}
      prometheus:
        url: \(url)
        interval: 3s
        duration: 12s
        queries:
          - name: error-rate
            query: '\(query.replacingOccurrences(of: "'", with: "''"))'
            max: \(max)
            failure_limit: \(failureLimit)
    """
  }

  /// Prometheus scraping every prod host's app.
  func withPrometheus<T>(_ s: Scenario, _ body: (MetricsServer) async throws -> T) async throws -> T {
    let targets = s.hosts("prod").map { "\($0.address):\(s.port)" }
    return try await MetricsServer.with(
      .prometheus(targets: targets, metricsPath: "/cgi-bin/metrics", app: s.app), body)
  }

  /// Real traffic on `/` of every prod host while `body` runs (what Prometheus sees of the app).
  func withTraffic<T>(_ s: Scenario, _ body: () async throws -> T) async throws -> T {
    let urls = s.hosts("prod").map { HTTPProbe.url(host: $0.address, port: s.port, path: "/") }
    let traffic = Task {
      while !Task.isCancelled {
        for url in urls {
          // Answers and refusals alike: the app may be between containers.
          _ = try? await HTTPProbe(url: url, timeout: .seconds(1)).run()
        }
        try? await Task.sleep(for: .milliseconds(50))
      }
    }
    defer { traffic.cancel() }
    return try await body()
  }

  func record(_ s: Scenario, _ host: Testbed.Host, _ id: String) async throws -> [String: Any] {
    let text = try await s.testbed.sshChecked(
      host, "cat /var/lib/deployctl/\(s.app)/releases/prod/\(id).json")
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
      throw TestFailure("\(host.name): release record \(id) is not a JSON object:\n\(text)")
    }
    return object
  }

  @Test(
    "a release whose error rate passes the query stays, with every measurement in JSON; one that answers 500s on / (health and smoke pass) is rolled back everywhere (exit 1)"
  )
  func errorRateGatesTheRelease() async throws {
    try await Scenario.with { s in
      try await withPrometheus(s) { prometheus in
        try await withTraffic(s) {
          try writePlan(s, verify(s, url: prometheus.url, query: Self.errorRate))
          let good = try await s.deployctl(["deploy", "prod", "--image", "v1"])
          #expect(good.status == 0, "\(good.stderr)")
          let report = try good.report
          let v1 = try #require(report.release?.id)
          let metrics = try #require(report.verification?.prometheus, "\(good.stdout)")
          #expect(metrics.passed && metrics.error == nil)
          let query = try #require(metrics.queries.first)
          #expect(query.name == "error-rate")
          #expect(query.query.contains("app=\"\(s.app)\""), "${app} filled in: \(query.query)")
          #expect(query.measurements.count == 4, "\(query.measurements)")
          #expect(query.failures <= 1)
          #expect(query.measurements.last?.value == 0, "\(query.measurements)")
          #expect(good.stderr.contains("prometheus error-rate: "), "\(good.stderr)")
          for host in s.hosts("prod") {
            #expect(try await record(s, host, v1)["verified"] as? Bool == true)
          }

          let bad = try await s.deployctl(["deploy", "prod", "--image", "erroring"])
          #expect(bad.status == 1, "\(bad.stderr)")
          let badReport = try bad.report
          #expect(badReport.hosts.map(\.result) == [.rolledBack, .rolledBack])
          let failed = try #require(badReport.verification)
          #expect(failed.hosts.allSatisfy { $0.passed }, "health and smoke passed: \(failed.hosts)")
          let badMetrics = try #require(failed.prometheus)
          #expect(!badMetrics.passed && !failed.passed)
          let badQuery = try #require(badMetrics.queries.first)
          #expect(badQuery.failures == 2, "stopped at the second failure: \(badQuery.measurements)")
          #expect(badQuery.measurements.contains { ($0.value ?? 0) > 0.1 }, "\(badQuery.measurements)")
          let error = badReport.error ?? ""
          #expect(error.contains("prometheus: query error-rate failed"), "\(error)")
          #expect(error.contains("above max 0.1"), "\(error)")
          let erroring = try #require(badReport.release?.id)
          for host in s.hosts("prod") {
            #expect(try await s.version(on: host) == "v1")
            #expect(try await record(s, host, erroring)["verified"] as? Bool == false)
          }
        }
      }
    }
  }

  @Test("a PromQL error and an unreachable Prometheus fail the verification clearly (exit 1, rolled back)")
  func promQLErrorAndUnreachablePrometheus() async throws {
    try await Scenario.with { s in
      try await withPrometheus(s) { prometheus in
        try writePlan(s, "")
        #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)

        try writePlan(
          s, verify(s, url: prometheus.url, query: "sum(rate(http_requests_total[1m]", failureLimit: 0))
        let promQL = try await s.deployctl(["deploy", "prod", "--image", "v2"])
        #expect(promQL.status == 1, "\(promQL.stderr)")
        let report = try promQL.report
        #expect(report.hosts.map(\.result) == [.rolledBack, .rolledBack])
        let measurement = try #require(report.verification?.prometheus?.queries.first?.measurements.first)
        #expect(!measurement.passed && measurement.value == nil)
        #expect(
          measurement.error?.contains("parse error") == true, "Prometheus's own message: \(measurement)")
        #expect(report.error?.contains("parse error") == true, "\(report.error ?? "")")
      }

      let closed = try LoopbackSocket(listening: false)
      try writePlan(s, verify(s, url: "http://127.0.0.1:\(closed.port)", query: Self.errorRate))
      let down = try await s.deployctl(["deploy", "prod", "--image", "v3"])
      #expect(down.status == 1, "\(down.stderr)")
      let report = try down.report
      #expect(report.hosts.map(\.result) == [.rolledBack, .rolledBack])
      let metrics = try #require(report.verification?.prometheus)
      #expect(!metrics.passed)
      #expect(metrics.error?.contains("could not be reached") == true, "\(metrics)")
      #expect(report.error?.contains("could not be reached") == true, "\(report.error ?? "")")
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v1") }
      _ = closed
    }
  }

  @Test("SIGINT during the bake window ends it at once and puts the hosts back (exit 1)")
  func interruptDuringTheBakeWindow() async throws {
    try await Scenario.with { s in
      try await withPrometheus(s) { prometheus in
        try writePlan(s, "")
        #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
        // A window of 10 minutes: the run can only end in time if the signal cuts it short.
        let plan = verify(s, url: prometheus.url, query: "vector(0)", failureLimit: 0)
          .replacingOccurrences(of: "duration: 12s", with: "duration: 10m")
        try writePlan(s, plan)
        let run = try await s.start(["deploy", "prod", "--image", "v2"])
        try await run.waitForOutput("prometheus error-rate: 0")
        run.signal(SIGINT)
        let result = try await run.finish()
        #expect(result.status == 1, "\(result.stderr)")
        let report = try result.report
        #expect(report.hosts.map(\.result) == [.rolledBack, .rolledBack])
        #expect(report.error?.contains("interrupted by SIGINT") == true, "\(report.error ?? "")")
        let metrics = try #require(report.verification?.prometheus)
        #expect(!metrics.passed && metrics.error?.contains("interrupted by SIGINT") == true, "\(metrics)")
        #expect(metrics.durationMs < metrics.windowMs)
        for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v1") }
      }
    }
  }

  @Test("the Pushgateway holds the run's series after a deploy, grouped by job, environment and app")
  func pushgatewayHoldsTheSeries() async throws {
    try await Scenario.with { s in
      try await MetricsServer.with(.pushgateway) { gateway in
        try writePlan(s, "notify:\n  - pushgateway: {url: \(gateway.url)}")
        let run = try await s.deployctl(["deploy", "prod", "--image", "v1"])
        #expect(run.status == 0, "\(run.stderr)")
        let sent = try run.report.notifications
        #expect(sent.map(\.result) == [.sent], "\(sent)")

        let answer = try #require(await gateway.get("/api/v1/metrics"))
        #expect(answer.status == 200)
        let document = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
        let groups = try #require(document?["data"] as? [[String: Any]], "\(answer.body)")
        let group = try #require(
          groups.first { ($0["labels"] as? [String: String])?["app"] == s.app },
          "no group for \(s.app): \(answer.body)")
        #expect(
          group["labels"] as? [String: String] == ["job": "deployctl", "environment": "prod", "app": s.app])
        func samples(_ name: String) -> [[String: Any]] {
          ((group[name] as? [String: Any])?["metrics"] as? [[String: Any]]) ?? []
        }
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
          samples(name).first { sample in
            let have = sample["labels"] as? [String: String] ?? [:]
            return labels.allSatisfy { have[$0.key] == $0.value }
          }.flatMap { ($0["value"] as? String).flatMap(Double.init) }
        }
        #expect(value("deployctl_last_run_success") == 1, "\(group)")
        #expect(value("deployctl_last_run_hosts", ["result": "deployed"]) == 2)
        #expect(value("deployctl_last_run_hosts", ["result": "failed"]) == 0)
        let stamp = try #require(value("deployctl_last_run_timestamp_seconds"))
        #expect(abs(stamp - Date().timeIntervalSince1970) < 600)
        #expect((value("deployctl_last_run_duration_seconds") ?? -1) > 0)

        // A failed run replaces the series; a Pushgateway that is down only warns.
        let bad = try await s.deployctl(["deploy", "prod", "--image", "broken"])
        #expect(bad.status == 1)
        let after = try #require(await gateway.get("/metrics"))
        #expect(
          after.body.contains(
            "deployctl_last_run_success{app=\"\(s.app)\",command=\"deploy\",environment=\"prod\",instance=\"\",job=\"deployctl\"} 0"
          ), "\(after.body.split(separator: "\n").filter { $0.contains(s.app) })")
      }
      let closed = try LoopbackSocket(listening: false)
      try writePlan(s, "notify:\n  - pushgateway: {url: http://127.0.0.1:\(closed.port)}")
      let down = try await s.deployctl(["deploy", "prod", "--image", "v2"])
      #expect(down.status == 0, "\(down.stderr)")
      let notifications = try down.report.notifications
      #expect(notifications.map(\.result) == [.failed])
      #expect(down.stderr.contains("warning: pushgateway notification not sent"), "\(down.stderr)")
      _ = closed
    }
  }

  @Test("stats on a history made here gives the figures computed by hand from the hosts' audit lines")
  func statsMatchTheHandCount() async throws {
    try await Scenario.with { s in
      try writePlan(s, "")
      // Nothing yet: no figures, said, not crashed on.
      let empty = try await s.deployctl(["stats", "prod"])
      #expect(empty.status == 0, "\(empty.stderr)")
      let none = try empty.document(StatsReport.self)
      #expect(none.deploymentFrequency.deploys == 0 && none.changeFailureRate.rate == nil)
      #expect(none.notes.contains("no deploy or promote in the window"), "\(none.notes)")

      // v1 and v2 go out; broken fails and is rolled back in its run; then v2 is rolled back.
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
      let v2 = try await s.deployctl(["deploy", "prod", "--image", "v2"])
      #expect(v2.status == 0)
      #expect(try await s.deployctl(["deploy", "prod", "--image", "broken"]).status == 1)
      #expect(try await s.deployctl(["rollback", "prod"]).status == 0)

      let run = try await s.deployctl(["stats", "prod", "--since", "1d"])
      #expect(run.status == 0, "\(run.stderr)")
      let stats = try run.document(StatsReport.self)

      // By hand: each run's last audit line over both hosts is when it was live everywhere.
      var ends: [String: Date] = [:]
      var order: [String] = []
      var digests: [String: String] = [:]
      for host in s.hosts("prod") {
        let log = try await s.testbed.sshChecked(host, "cat /var/lib/deployctl/\(s.app)/audit.log")
        for line in log.split(separator: "\n") {
          let entry = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
          guard let runID = entry["run"] as? String, let time = entry["time"] as? String,
            let date = DeliveryStats.parseTime(time)
          else { continue }
          if ends[runID] == nil { order.append(runID) }
          ends[runID] = max(ends[runID] ?? date, date)
          if let digest = entry["digest"] as? String { digests[runID] = digest }
        }
      }
      #expect(order.count == 4, "four runs: \(order)")
      guard order.count == 4 else { return }
      var created: [Date] = []
      for runID in order.prefix(2) {
        let digest = try #require(digests[runID])
        let text = try await s.testbed.sshChecked(
          s.hosts("prod")[0], "docker image inspect --format '{{.Created}}' \(s.testbed.image)@\(digest)")
        created.append(
          try #require(DeliveryStats.parseTime(text.trimmingCharacters(in: .whitespacesAndNewlines))))
      }
      let live = try order.map { try #require(ends[$0]) }
      let leads = zip(live.prefix(2), created).map { max(0, $0.timeIntervalSince($1)) }
      let restore = live[3].timeIntervalSince(live[1])

      #expect(stats.deploymentFrequency.deploys == 2 && stats.deploymentFrequency.attempts == 3)
      #expect(stats.deploymentFrequency.weekly == [2])
      #expect(stats.changeFailureRate.failed == 2 && stats.changeFailureRate.changes == 3)
      #expect(abs((stats.changeFailureRate.rate ?? 0) - 2.0 / 3) < 1e-9)
      #expect(stats.leadTime.samples == 2 && stats.leadTime.unknown == 0)
      #expect(
        abs((stats.leadTime.medianS ?? -1) - (leads[0] + leads[1]) / 2) < 0.01, "\(stats.leadTime) \(leads)")
      #expect(stats.timeToRestore.incidents == 1 && stats.timeToRestore.restored == 1)
      #expect(abs((stats.timeToRestore.medianS ?? -1) - restore) < 0.01, "\(stats.timeToRestore) \(restore)")

      let text = try await s.deployctl(["stats", "prod"], json: false)
      #expect(text.status == 0)
      #expect(text.stdout.contains("change failure rate   66.7% (2 of 3 deploys)"), "\(text.stdout)")
      #expect(text.stdout.contains("deployment frequency  2 deploys"), "\(text.stdout)")
    }
  }
}
