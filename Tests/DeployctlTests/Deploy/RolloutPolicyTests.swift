import Foundation
import Testing

/// `rollout.batch`, `max_failures` and `rollback.auto` end to end, with one host that fails its
/// health check: the real binary against the testbed's two prod hosts. prod-2 accepts only v1
/// (its check wants `/version` to contain "v1", set through a host var); prod-1 accepts any
/// release.
@Suite("Rollout policies end to end", .enabled(if: Testbed.isAvailable))
struct RolloutPolicyTests {
  /// The scenario's plan and inventories with a per-host health check and the given policies.
  func configure(_ s: Scenario, batch: String, maxFailures: Int, auto: Bool) throws {
    let plan = """
      app: \(s.app)
      image: \(s.testbed.image)
      container:
        ports: ["\(s.port):8080"]
        stop_timeout: 5s
      health:
        http: {port: \(s.port), path: /version, expect: 200, contains: "${WANT}"}
        via: ssh
        interval: 300ms
        timeout: 1s
        retries: 4
        start_period: 1s
      rollout:
        batch: \(batch)
        max_failures: \(maxFailures)
      rollback:
        auto: \(auto)

      """
    try plan.write(toFile: s.playbooks + "/\(s.app).yml", atomically: true, encoding: .utf8)
    let folder = URL(fileURLWithPath: s.inventories)
    for file in try FileManager.default.contentsOfDirectory(atPath: s.inventories)
    where file.hasSuffix(".yml") {
      let url = folder.appendingPathComponent(file)
      var text = try String(contentsOf: url, encoding: .utf8)
      text = text.replacingOccurrences(of: "vars: {REGION: local}", with: "vars: {REGION: local, WANT: v}")
      if file == "prod.yml" {
        // prod-2 is the second host of prod: it wants v1.
        let parts = text.components(separatedBy: "prod-2:")
        #expect(parts.count == 2)
        text = parts[0] + "prod-2:" + parts[1].replacingOccurrences(of: "WANT: v}", with: "WANT: v1}")
      }
      try text.write(to: url, atomically: true, encoding: .utf8)
    }
  }

  /// v1 on both prod hosts, then v2 under these policies (prod-2 refuses v2); the v2 run, which
  /// fails with exit 1 whatever the policy.
  func deployV2(_ s: Scenario, maxFailures: Int, auto: Bool) async throws -> Scenario.Run {
    try configure(s, batch: "\"50%\"", maxFailures: maxFailures, auto: auto)
    #expect(s.hosts("prod").map(\.name) == ["prod-1", "prod-2"])
    #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
    let run = try await s.deployctl(["deploy", "prod", "--image", "v2"])
    #expect(run.status == 1, "\(run.stderr)")
    return run
  }

  @Test("batch 50% with max_failures 1: prod-2 fails and goes back, prod-1 keeps the release (exit 1)")
  func halfBatchesToleratingOneFailure() async throws {
    try await Scenario.with { s in
      let run = try await deployV2(s, maxFailures: 1, auto: true)
      let hosts = s.hosts("prod")
      #expect(try run.host("prod-1")?.result.rawValue == "deployed")
      #expect(try run.host("prod-2")?.result.rawValue == "rolled_back")
      #expect(try await s.version(on: hosts[0]) == "v2")
      #expect(try await s.version(on: hosts[1]) == "v1")
      // Each host's own records say what it runs.
      let release = try #require(try run.report.release?.id)
      let current1 = try await s.testbed.sshChecked(
        hosts[0], "cat /var/lib/deployctl/\(s.app)/releases/prod/current")
      #expect(current1.trimmingCharacters(in: .whitespacesAndNewlines) == release)
      let current2 = try await s.testbed.sshChecked(
        hosts[1], "cat /var/lib/deployctl/\(s.app)/releases/prod/current")
      #expect(current2.trimmingCharacters(in: .whitespacesAndNewlines) != release)
    }
  }

  @Test("max_failures 0: prod-2 fails, so prod-1, already healthy on v2, goes back too (exit 1)")
  func noFailureTolerated() async throws {
    try await Scenario.with { s in
      let run = try await deployV2(s, maxFailures: 0, auto: true)
      let hosts = s.hosts("prod")
      #expect(try run.host("prod-1")?.result.rawValue == "rolled_back")
      #expect(try run.host("prod-2")?.result.rawValue == "rolled_back")
      for host in hosts { #expect(try await s.version(on: host) == "v1") }
    }
  }

  @Test("rollback.auto false: prod-2 goes back, prod-1 stays on v2 and the run says so (exit 1)")
  func noAutomaticRollback() async throws {
    try await Scenario.with { s in
      let run = try await deployV2(s, maxFailures: 0, auto: false)
      let hosts = s.hosts("prod")
      #expect(try run.host("prod-1")?.result.rawValue == "deployed")
      #expect(try run.host("prod-2")?.result.rawValue == "rolled_back")
      #expect(try await s.version(on: hosts[0]) == "v2")
      #expect(try await s.version(on: hosts[1]) == "v1")
      #expect(run.stderr.contains("max_failures: 0"))
    }
  }

  @Test(
    "order: start-first on hosts (no published port): the new container runs before the old one stops, then takes its name"
  )
  func startFirstOnHosts() async throws {
    try await Scenario.with { s in
      let plan = """
        app: \(s.app)
        image: \(s.testbed.image)
        container:
          stop_timeout: 5s
        rollout:
          order: start-first

        """
      try plan.write(toFile: s.playbooks + "/\(s.app).yml", atomically: true, encoding: .utf8)
      let host = s.hosts("dev")[0]
      #expect(try await s.deployctl(["deploy", "dev", "--image", "v1"]).status == 0)
      let first = try await s.testbed.sshChecked(host, "docker inspect --format '{{.Id}}' \(s.app)")
      let since = try await s.testbed.sshChecked(host, "date +%s").trimmingCharacters(
        in: .whitespacesAndNewlines)
      let run = try await s.deployctl(["deploy", "dev", "--image", "v2"])
      #expect(run.status == 0, "\(run.stderr)")
      // Docker's own event log: the new container started before the old one was stopped.
      let events = try await s.testbed.sshChecked(
        host,
        "docker events --since \(since) --until $(($(date +%s) + 1)) --filter label=deployctl.app=\(s.app) "
          + "--filter type=container --format '{{.Action}} {{.Actor.Attributes.name}}'")
      let actions = events.split(separator: "\n").map(String.init)
      let started = actions.firstIndex(of: "start \(s.app)-deployctl-next")
      let stopped = actions.firstIndex {
        $0.hasPrefix("kill \(s.app)") || $0.hasPrefix("stop \(s.app)") || $0.hasPrefix("die \(s.app)")
      }
      #expect(started != nil && stopped != nil && started! < stopped!, "events: \(actions)")
      let names = try await s.testbed.sshChecked(
        host,
        "docker ps -a --filter label=deployctl.app=\(s.app) --format '{{.Names}} {{.Label \"deployctl.release\"}}'"
      )
      let lines = names.split(separator: "\n")
      #expect(lines.count == 1, "only the app's container is left: \(names)")
      #expect(lines.first?.hasPrefix("\(s.app) ") == true, "it has the app's name: \(names)")
      #expect(try run.report.release.map { names.contains($0.id) } == true)
      let second = try await s.testbed.sshChecked(host, "docker inspect --format '{{.Id}}' \(s.app)")
      #expect(!first.hasPrefix(second.trimmingCharacters(in: .whitespacesAndNewlines)))
    }
  }
}
