import DeployEngine
import DeployKit
import Foundation
import Testing

/// `health.cmd`, `health.running` and `health.docker` end to end (docs/configuration.md "Health
/// checks without HTTP"), with the testbed's worker and HEALTHCHECK images.
@Suite("Health without HTTP end to end", .enabled(if: Testbed.isAvailable))
struct ContainerHealthTests {
  @Test("cmd: exit 0 in the container passes; a failing command rolls the host back")
  func commandCheck() async throws {
    try await Scenario.with { s in
      try s.writePlan(health: "cmd: [test, -e, /start.sh]")
      let up = try await s.deployctl(["deploy", "staging", "--image", "worker"])
      #expect(up.status == 0, "\(up.stderr)")
      // `status` runs the same command once.
      let status = try await s.deployctl(["status", "staging"]).document(StatusReport.self)
      #expect(status.hosts.map(\.health) == ["healthy"])
      // The image healthcheck-fails has no /www/healthz: the command fails there, and passes
      // again on the worker it goes back to.
      try s.writePlan(health: "cmd: [cat, /www/healthz]")
      #expect(try await s.deployctl(["deploy", "staging", "--image", "worker"]).status == 0)
      let down = try await s.deployctl(["deploy", "staging", "--image", "healthcheck-fails"])
      #expect(down.status == 1, "\(down.stderr)")
      #expect(try down.report.hosts.map(\.result) == [.rolledBack])
      #expect(down.stderr.contains("`cat /www/healthz` exited 1"), "\(down.stderr)")
      for host in s.hosts("staging") { #expect(try await s.imageVersion(on: host) == "worker") }
    }
  }

  @Test("running: a worker up that long passes; one that exits after 5 s fails when it exits")
  func runningCheck() async throws {
    try await Scenario.with { s in
      try s.writePlan(health: "running: 2s")
      let up = try await s.deployctl(["deploy", "staging", "--image", "worker"])
      #expect(up.status == 0, "\(up.stderr)")
      // Up 20 s would pass only then: the exit at 5 s ends the check, as a crash (the
      // worker it goes back to is then checked for 20 s too).
      try s.writePlan(health: "running: 20s")
      let exits = try await s.deployctl(["deploy", "staging", "--image", "worker-exit"])
      #expect(exits.status == 1, "\(exits.stderr)")
      #expect(try exits.report.hosts.map(\.result) == [.rolledBack])
      #expect(exits.stderr.contains("container is not running"), "\(exits.stderr)")
      // Docker may be seen restarting it, or running it again after a restart: both say so.
      #expect(exits.stderr.contains(" restarted "), "\(exits.stderr)")
      for host in s.hosts("staging") { #expect(try await s.imageVersion(on: host) == "worker") }
    }
  }

  @Test("docker: true follows the image's HEALTHCHECK, and says at once when the image has none")
  func dockerCheck() async throws {
    try await Scenario.with { s in
      try s.writePlan(health: "docker: true", ports: true)
      let up = try await s.deployctl(["deploy", "staging", "--image", "healthcheck"])
      #expect(up.status == 0, "\(up.stderr)")
      let failing = try await s.deployctl(["deploy", "staging", "--image", "healthcheck-fails"])
      #expect(failing.status == 1, "\(failing.stderr)")
      #expect(failing.stderr.contains("docker health status: unhealthy"), "\(failing.stderr)")
      let none = try await s.deployctl(["deploy", "staging", "--image", "v1"])
      #expect(none.status == 1, "\(none.stderr)")
      #expect(none.stderr.contains("has no HEALTHCHECK"), "\(none.stderr)")
      for host in s.hosts("staging") { #expect(try await s.imageVersion(on: host) == "healthcheck") }
    }
  }
}

extension Scenario {
  /// Replaces the scenario's plan with one whose health check is `health` (a flow mapping's
  /// content, with a short interval), publishing the scenario's port only with `ports`; `extra`
  /// is added at the top level.
  func writePlan(health: String, ports: Bool = false, extra: String = "") throws {
    let plan = """
      app: \(app)
      image: \(testbed.image)
      container:
      \(ports ? "  ports: [\"\(port):8080\"]\n" : "")  volumes: ["/srv/\(app)/data:/data"]
        env: {APP_ENV: "${environment}"}
        stop_timeout: 5s
      health: {\(health), interval: 500ms, timeout: 2s, retries: 4, start_period: 0}
      \(extra)
      """
    try plan.write(toFile: playbooks + "/\(app).yml", atomically: true, encoding: .utf8)
  }

  /// The test image's tag the app's container on `host` runs (its version label).
  func imageVersion(on host: Testbed.Host) async throws -> String {
    try await testbed.sshChecked(
      host, "docker inspect --format '{{index .Config.Labels \"org.opencontainers.image.version\"}}' \(app)"
    ).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
