import DeployConfig
import DeployEngine
import DeployKit
import Foundation
import TestSupport
import Testing

/// `engine: swarm` end to end: the testbed's `swarm` environment is a real 3-node Docker Swarm
/// (one dockerd per network namespace, `docker swarm init` and `join` over their addresses), and
/// its inventory lists the manager only, with `replicas: 2` and `publish: host` (the routing mesh
/// needs IPVS, which the testbed's kernel lacks). Each test is its own app, so its own service.
@Suite("Swarm engine end to end", .enabled(if: Testbed.isAvailable))
struct SwarmTests {
  static let environment = "swarm"

  /// A scenario whose app also runs as a service on the swarm: the bind mount's folder exists on
  /// every node (Swarm does not create it), and the service and its secrets go at the end.
  static func with(
    _ options: Scenario.Options = Scenario.Options(), plan: (inout String) -> Void = { _ in },
    _ body: (Scenario) async throws -> Void
  ) async throws {
    var options = options
    options.swarm = true
    try await Scenario.with(options) { s in
      let nodes = s.hosts(environment)
      try #require(nodes.count == 3, "the testbed has a 3-node swarm environment")
      let file = s.playbooks + "/\(s.app).yml"
      var text = try String(contentsOfFile: file, encoding: .utf8)
      plan(&text)
      try text.write(toFile: file, atomically: true, encoding: .utf8)
      for node in nodes { _ = try await s.testbed.sshChecked(node, "mkdir -p /srv/\(s.app)/data") }
      do {
        try await body(s)
      } catch {
        await removeService(s)
        throw error
      }
      await removeService(s)
    }
  }

  static func removeService(_ s: Scenario, in environment: String = environment) async {
    guard let manager = s.hosts(environment).first else { return }
    // A secret goes once no task uses it any more: tried again every 0.2 s, at most 10 s.
    _ = try? await s.testbed.ssh(
      manager,
      "docker service rm \(s.app) >/dev/null 2>&1; "
        + "secrets=$(docker secret ls -q --filter label=deployctl.app=\(s.app)); i=0; "
        + "while [ -n \"$secrets\" ] && ! docker secret rm $secrets >/dev/null 2>&1 && [ $i -lt 50 ]; do "
        + "sleep 0.2; i=$((i+1)); secrets=$(docker secret ls -q --filter label=deployctl.app=\(s.app)); done; true"
    )
    for node in s.hosts(environment) { _ = try? await s.testbed.ssh(node, "rm -rf /srv/\(s.app)") }
  }

  /// The image the service's spec runs, as `docker service inspect` says.
  static func serviceImage(_ s: Scenario) async throws -> String {
    try await s.testbed.sshChecked(
      s.hosts(environment)[0],
      "docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' \(s.app)"
    ).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// What every node that runs a task serves on /version (a node without a task refuses).
  static func versions(_ s: Scenario) async throws -> [String] {
    var seen: [String] = []
    for node in s.hosts(environment) {
      let url = "http://\(node.address):\(s.port)/version"
      if let result = try? await HTTPProbe(url: url, timeout: .seconds(2)).run(), result.status == 200 {
        seen.append(result.body.trimmingCharacters(in: .whitespacesAndNewlines))
      }
    }
    return seen.sorted()
  }

  static func status(_ s: Scenario) async throws -> StatusReport {
    try await s.deployctl(["status", environment]).document(StatusReport.self)
  }

  @Test(
    "deploy, a crashing and a failing release rolled back by Swarm and by deployctl, rollback --to, status, history",
    .tags(.long)
  )
  func deployFailRollback() async throws {
    var options = Scenario.Options()
    options.secrets = ["DB_PASSWORD"]
    try await Self.with(options) { s in
      let secret = "s3cr3t-\(UUID().uuidString)"
      let env = ["DB_PASSWORD": secret]
      let first = try await s.deployctl(["deploy", Self.environment, "--image", "v1"], environment: env)
      #expect(first.status == 0, "\(first.stderr)")
      let v1 = try first.report.release
      #expect(try await Self.serviceImage(s) == v1?.image, "the service runs the digest deployctl resolved")
      #expect(try await Self.versions(s) == ["v1", "v1"], "2 replicas, each on its own node")
      // Swarm's own settings from the plan.
      let inspect = try await s.testbed.sshChecked(
        s.hosts(Self.environment)[0], "docker service inspect \(s.app)")
      #expect(inspect.contains("\"FailureAction\": \"rollback\""))
      #expect(!inspect.contains(secret), "the secret is a Docker secret, never in the spec")
      #expect(inspect.contains("DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD"))
      let task = try await s.testbed.sshChecked(
        s.hosts(Self.environment)[0], "docker service ps -q --filter desired-state=running \(s.app) | head -1"
      )
      #expect(!task.isEmpty)

      // --dry-run shows the service's words and changes nothing.
      let dry = try await s.deployctl(
        ["deploy", Self.environment, "--image", "v2", "--dry-run"], environment: env)
      #expect(dry.status == 0, "\(dry.stderr)")
      #expect(dry.stderr.contains("would update service") && dry.stderr.contains("--no-resolve-image"))
      #expect(!dry.stderr.contains(secret))
      #expect(try await Self.serviceImage(s) == v1?.image)

      let status = try await Self.status(s)
      #expect(status.result == .success)
      let tasks = status.hosts.first?.tasks ?? []
      #expect(tasks.count == 2 && tasks.allSatisfy { $0.health == "healthy" && $0.image == v1?.image })
      #expect(Set(tasks.map(\.node)).count == 2, "tasks name their nodes")

      // A release whose tasks exit: Swarm's failure action rolls the service back.
      let crash = try await s.deployctl(["deploy", Self.environment, "--image", "crash"], environment: env)
      #expect(crash.status == 1, "\(crash.stderr)")
      #expect(try await Self.serviceImage(s) == v1?.image)
      #expect(try await Self.versions(s) == ["v1", "v1"])

      // A release that runs but fails the plan's health check: deployctl puts v1 back.
      let broken = try await s.deployctl(["deploy", Self.environment, "--image", "broken"], environment: env)
      #expect(broken.status == 1, "\(broken.stderr)")
      #expect(try broken.hosts.first?.result == .rolledBack)
      #expect(try await Self.serviceImage(s) == v1?.image)

      let second = try await s.deployctl(["deploy", Self.environment, "--image", "v2"], environment: env)
      #expect(second.status == 0, "\(second.stderr)")
      #expect(try await Self.versions(s) == ["v2", "v2"])

      let back = try await s.deployctl(["rollback", Self.environment, "--to", v1?.id ?? "?"])
      #expect(back.status == 0, "\(back.stderr)")
      #expect(try await Self.serviceImage(s) == v1?.image)
      #expect(try await Self.versions(s) == ["v1", "v1"])

      let history = try await s.deployctl(["history", Self.environment])
      #expect(history.status == 0)
      let releases = try history.document(HistoryReport.self).releases
      #expect(releases.first?.how == "rollback" && releases.first?.release == v1?.id)
      #expect(releases.contains { $0.tag == "crash" && $0.result == "rolled_back" })
      #expect(!history.stdout.contains(secret))
    }
  }

  @Test("promote hosts → swarm ships staging's digest; swarm → hosts too")
  func promoteBetweenEngines() async throws {
    try await Self.with { s in
      #expect(try await s.deployctl(["deploy", "staging", "--image", "v2"]).status == 0)
      let promoted = try await s.deployctl(["promote", "staging", Self.environment])
      #expect(promoted.status == 0, "\(promoted.stderr)")
      let staging = try await s.deployctl(["status", "staging"]).document(StatusReport.self)
      #expect(try await Self.serviceImage(s) == staging.hosts.first?.image)
      #expect(try await Self.versions(s) == ["v2", "v2"])
      // And back: prod accepts only staging, so the swarm → hosts direction is checked on a copy
      // of prod's inventory that accepts the swarm.
      let prod = s.inventories + "/prod.yml"
      let text = try String(contentsOfFile: prod, encoding: .utf8)
      try text.replacing("promote_from: staging", with: "promote_from: \(Self.environment)").write(
        toFile: prod, atomically: true, encoding: .utf8)
      let down = try await s.deployctl(["promote", Self.environment, "prod"])
      #expect(down.status == 0, "\(down.stderr)")
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v2") }
    }
  }

  @Test("order: start-first keeps the service answering through the update (polled every 50 ms, no gap)")
  func startFirstHasNoGap() async throws {
    try await Self.with(plan: {
      // Only for the swarm: with `engine: hosts`, start-first is refused while a port is published.
      $0 += "environments:\n  \(Self.environment):\n    rollout: {order: start-first}\n"
    }) {
      s in
      #expect(try await s.deployctl(["deploy", Self.environment, "--image", "v1"]).status == 0)
      let addresses = s.hosts(Self.environment).map(\.address)
      let port = s.port
      let stopPolling = Locked(false)
      // Every 50 ms, ask every node; a tick counts as answered when any node serves.
      let poller = Task { () -> (ticks: Int, gaps: Int, seen: Set<String>) in
        var ticks = 0
        var gaps = 0
        var seen: Set<String> = []
        while !stopPolling.current {
          var answered = false
          for address in addresses {
            let probe = try? HTTPProbe(url: "http://\(address):\(port)/version", timeout: .milliseconds(500))
            if let result = try? await probe?.run(), result.status == 200 {
              answered = true
              seen.insert(result.body.trimmingCharacters(in: .whitespacesAndNewlines))
            }
          }
          ticks += 1
          if !answered { gaps += 1 }
          try? await Task.sleep(for: .milliseconds(50))
        }
        return (ticks, gaps, seen)
      }
      let update = try await s.deployctl(["deploy", Self.environment, "--image", "v2"])
      stopPolling.withLock { $0 = true }
      let polled = await poller.value
      #expect(update.status == 0, "\(update.stderr)")
      #expect(polled.ticks > 20, "polled through the update")
      #expect(polled.gaps == 0, "\(polled.gaps) of \(polled.ticks) polls found no node answering")
      #expect(polled.seen == ["v1", "v2"])
      let inspect = try await s.testbed.sshChecked(
        s.hosts(Self.environment)[0], "docker service inspect \(s.app)")
      #expect(inspect.contains("\"Order\": \"start-first\""))
    }
  }

  @Test(
    "verify: runs against every task at its node (the manager drained: no task there); a failed check rolls back",
    .tags(.long)
  )
  func verifyEveryTask() async throws {
    try await Self.with(plan: { plan in
      plan +=
        "verify:\n  via: ssh\n  smoke:\n    - {port: PORT, path: /version, expect: 200, contains: \"v1\"}\n"
    }) { s in
      let file = s.playbooks + "/\(s.app).yml"
      let text = try String(contentsOfFile: file, encoding: .utf8)
      try text.replacing("port: PORT", with: "port: \(s.port)").write(
        toFile: file, atomically: true, encoding: .utf8)
      let manager = s.hosts(Self.environment)[0]
      _ = try await s.testbed.sshChecked(
        manager, "docker node update --availability drain \(manager.name) >/dev/null")
      do {
        let first = try await s.deployctl(["deploy", Self.environment, "--image", "v1"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try first.report.verification?.hosts.first?.passed == true)
        let nodes = try await Self.status(s).hosts.first?.tasks?.map(\.node) ?? []
        #expect(
          nodes.count == 2 && !nodes.contains(manager.name), "the drained manager runs no task: \(nodes)")
        let second = try await s.deployctl(["deploy", Self.environment, "--image", "v2"])
        #expect(second.status == 1, "\(second.stderr)")
        #expect(try second.report.verification?.hosts.first?.passed == false)
        #expect(try await Self.serviceImage(s) == first.report.release?.image)
      } catch {
        _ = try? await s.testbed.ssh(manager, "docker node update --availability active \(manager.name)")
        throw error
      }
      _ = try await s.testbed.sshChecked(
        manager, "docker node update --availability active \(manager.name) >/dev/null")
    }
  }

  @Test("the manager unreachable: exit 1 before anything changes")
  func managerUnreachable() async throws {
    try await Self.with { s in
      #expect(try await s.deployctl(["deploy", Self.environment, "--image", "v1"]).status == 0)
      let manager = s.hosts(Self.environment)[0]
      try await s.testbed.cut(manager)
      let run: Scenario.Run
      do {
        run = try await s.deployctl(["deploy", Self.environment, "--image", "v2"])
      } catch {
        try await s.testbed.heal(manager)
        throw error
      }
      try await s.testbed.heal(manager)
      #expect(run.status == 1, "\(run.stderr)")
      #expect(try run.hosts.first?.result == .unreachable)
      #expect(try await Self.versions(s) == ["v1", "v1"])
    }
  }

  @Test("SIGINT mid-update: the service goes back to its previous spec, exit 1")
  func interruptMidUpdate() async throws {
    var options = Scenario.Options()
    options.startPeriod = "5s"
    try await Self.with(options) { s in
      let first = try await s.deployctl(["deploy", Self.environment, "--image", "v1"])
      #expect(first.status == 0)
      let run = try await s.start(["deploy", Self.environment, "--image", "v2"])
      try await run.waitForOutput("converge")
      run.signal(SIGINT)
      let result = try await run.finish()
      #expect(result.status == 1, "\(result.stderr)")
      let before = try first.report.release?.image
      #expect(try await Self.serviceImage(s) == before)
      #expect(try await Self.versions(s) == ["v1", "v1"])
      let lock = try await s.deployctl(["lock", Self.environment, "status"])
      #expect(lock.status == 0, "the lock is released: \(lock.stdout)")
    }
  }

  @Test("a worker node lost mid-update: the run ends truthfully", .tags(.long))
  func workerLostMidUpdate() async throws {
    try await Self.with { s in
      let first = try await s.deployctl(["deploy", Self.environment, "--image", "v1"])
      #expect(first.status == 0)
      let worker = s.hosts(Self.environment)[2]
      let run = try await s.start(["deploy", Self.environment, "--image", "v2"])
      try await run.waitForOutput("update service")
      try await s.testbed.stopEngine(worker)
      let result = try await run.finish()
      try await s.testbed.startEngine(worker)
      let report = try result.report
      let image = try await Self.serviceImage(s)
      switch result.status {
      case 0:
        // Swarm rescheduled the lost node's task: every running task is v2 and answered.
        #expect(image == report.release?.image)
        #expect(try await Self.versions(s).allSatisfy { $0 == "v2" })
      case 1:
        let before = try first.report.release?.image
        #expect(image == before, "exit 1 means the service is back on v1")
      default:
        Issue.record("exit \(result.status): \(result.stderr)")
      }
    }
  }
}
