import DeployEngine
import DeployKit
import Foundation
import Testing

/// `roles:` end to end: one release moves a web role, a worker and a scheduler together on the
/// testbed's real hosts (the real binary), and a failing role sends every role back.
@Suite("Roles end to end", .enabled(if: Testbed.isAvailable))
struct RolesEndToEndTests {
  /// web on every host (its own port), worker on every host, scheduler on one host per
  /// environment; the worker and scheduler are the same image running a loop.
  static func writePlan(_ s: Scenario, worker: String = "while sleep 1; do :; done") throws {
    let plan = """
      app: \(s.app)
      image: \(s.testbed.image)
      container:
        volumes: ["/srv/\(s.app)/data:/data"]
        stop_timeout: 2s
      health:
        http: {port: \(s.port), path: /healthz}
        interval: 500ms
        timeout: 1s
        retries: 6
        start_period: 1s
      roles:
        web:
          ports: ["\(s.port):8080"]
        worker:
          command: ["sh", "-c", "\(worker)"]
          health: {running: 2s, interval: 500ms}
        scheduler:
          hosts: [staging-1, prod-2]
          command: ["sh", "-c", "while sleep 1; do :; done"]
          health: {cmd: ["true"], interval: 500ms}

      """
    try plan.write(toFile: s.playbooks + "/\(s.app).yml", atomically: true, encoding: .utf8)
    // dev has no scheduler host: the plan is refused there, and the test never deploys it.
    try? FileManager.default.removeItem(atPath: s.inventories + "/dev.yml")
    let staging = s.inventories + "/staging.yml"
    try String(contentsOfFile: staging, encoding: .utf8).replacingOccurrences(
      of: "promote_from: dev", with: ""
    )
    .write(toFile: staging, atomically: true, encoding: .utf8)
  }

  /// Each role's container on `host` and the release it runs (`deployctl.release`).
  static func releases(_ s: Scenario, on host: Testbed.Host) async throws -> [String: String] {
    let lines = try await s.testbed.sshChecked(
      host,
      "docker ps --filter label=deployctl.app=\(s.app) --format '{{.Names}} {{.Label \"deployctl.release\"}}'"
    )
    var result: [String: String] = [:]
    for line in lines.split(separator: "\n") {
      let parts = line.split(separator: " ").map(String.init)
      if parts.count == 2 { result[parts[0]] = parts[1] }
    }
    return result
  }

  @Test("web, worker and scheduler deployed, promoted and rolled back as one release")
  func oneReleaseForEveryRole() async throws {
    try await Scenario.with { s in
      try Self.writePlan(s)
      #expect(try await s.deployctl(["validate"]).status == 0)
      let staged = try await s.deployctl(["deploy", "staging", "--image", "v1"])
      #expect(staged.status == 0, "\(staged.stderr)")
      let first = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      #expect(first.status == 0, "\(first.stderr)")
      let v1 = try #require(try first.report.release?.id)
      let prod2 = try s.testbed.host("prod-2")
      #expect(
        try await Self.releases(s, on: prod2)
          == ["\(s.app)-web": v1, "\(s.app)-worker": v1, "\(s.app)-scheduler": v1])
      let prod1 = try s.testbed.host("prod-1")
      #expect(try await Self.releases(s, on: prod1) == ["\(s.app)-web": v1, "\(s.app)-worker": v1])

      // status: every role of every host, healthy.
      let status = try await s.deployctl(["status", "prod"])
      #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
      let hosts = try status.document(StatusReport.self).hosts
      #expect(hosts.first { $0.name == "prod-2" }?.roles?.map(\.name) == ["web", "worker", "scheduler"])
      #expect(hosts.allSatisfy { $0.roles?.allSatisfy { $0.health == "healthy" } == true }, "\(hosts)")

      #expect(try await s.deployctl(["deploy", "staging", "--image", "v2"]).status == 0)
      let promoted = try await s.deployctl(["promote", "staging", "prod"])
      #expect(promoted.status == 0, "\(promoted.stderr)")
      let v2 = try #require(try promoted.report.release?.id)
      #expect(try await Self.releases(s, on: prod2).values.allSatisfy { $0 == v2 })
      #expect(try await s.version(on: prod2) == "v2")

      let back = try await s.deployctl(["rollback", "prod"])
      #expect(back.status == 0, "\(back.stderr)")
      #expect(
        try await Self.releases(s, on: prod2)
          == ["\(s.app)-web": v1, "\(s.app)-worker": v1, "\(s.app)-scheduler": v1])
      #expect(try await s.version(on: prod1) == "v1")

      // history: the release names its roles (as one host's record holds them: prod-1 runs no
      // scheduler).
      let history = try await s.deployctl(["history", "prod"])
      let entry = try history.document(HistoryReport.self).releases.first { $0.release == v2 }
      #expect(entry?.roles?.starts(with: ["web", "worker"]) == true, "\(history.stdout)")

      // logs: every role, prefixed host/role; --role: one.
      let logs = try await s.deployctl(["logs", "prod", "--tail", "5", "--role", "web"], json: false)
      #expect(logs.status == 0, "\(logs.stderr)")
      #expect(logs.stdout.contains("prod-2/web: app v1 listening"), "\(logs.stdout)")
    }
  }

  @Test("a worker that crashes fails the deploy, and every role goes back")
  func aCrashingWorkerSendsEveryRoleBack() async throws {
    try await Scenario.with { s in
      try Self.writePlan(s)
      let first = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      #expect(first.status == 0, "\(first.stderr)")
      let v1 = try #require(try first.report.release?.id)
      try Self.writePlan(s, worker: "echo worker giving up; exit 3")
      let failed = try await s.deployctl(["deploy", "prod", "--image", "v2"])
      #expect(failed.status == 1, "\(failed.stderr)")
      #expect(failed.stderr.contains("role worker"), "\(failed.stderr)")
      for name in ["prod-1", "prod-2"] {
        let host = try s.testbed.host(name)
        #expect(try await s.version(on: host) == "v1")
        #expect(try await Self.releases(s, on: host).values.allSatisfy { $0 == v1 })
      }
    }
  }
}
