import DeployEngine
import DeployKit
import Foundation
import Testing

/// `release_command` end to end (docs/configuration.md "Release command"), with the test
/// images' /migrate.sh: it appends "migrated <version>" to /data/migrations, fails with
/// MIGRATE_FAIL set, waits MIGRATE_SLEEP seconds first, and prints MIGRATE_SECRET_ECHO.
@Suite("Release command end to end", .enabled(if: Testbed.isAvailable))
struct ReleaseCommandTests {
  static let secret = "s3cr3t-\(UUID().uuidString.prefix(8))"

  @Test("a migration runs once per deploy, on one host, before the change; its output is masked")
  func runsOnce() async throws {
    try await Scenario.with { s in
      try s.writeReleasePlan(env: [:])
      let run = try await s.deployctl(
        ["deploy", "prod", "--image", "v1"], environment: ["MIGRATE_SECRET_ECHO": Self.secret])
      #expect(run.status == 0, "\(run.stderr)")
      #expect(run.stderr.contains("release: migrate: done"), "\(run.stderr)")
      #expect(run.stderr.contains("migrate: secret is"), "\(run.stderr)")
      #expect(!run.stderr.contains(Self.secret) && !run.stdout.contains(Self.secret))
      let report = try #require(try run.report.releaseCommand)
      #expect(report.result == .succeeded)
      let first = try #require(s.hosts("prod").first)
      #expect(report.host == first.name)
      // Once: in the first host's volume, and nowhere else.
      let marker = try await s.testbed.sshChecked(first, "cat /srv/\(s.app)/data/migrations")
      #expect(marker == "migrated v1\n")
      for host in s.hosts("prod").dropFirst() {
        let none = try await s.testbed.ssh(host, "test -e /srv/\(s.app)/data/migrations")
        #expect(none.status != 0)
      }
      let record = try await s.testbed.sshChecked(
        first,
        "cat /var/lib/deployctl/\(s.app)/releases/prod/\(try #require(try run.report.release?.id)).json")
      #expect(record.contains("\"release_command_ran\":true"), "\(record)")
      // A rollback never runs it.
      #expect(
        try await s.deployctl(["deploy", "prod", "--image", "v2"], environment: ["MIGRATE_SECRET_ECHO": "x"])
          .status == 0)
      let back = try await s.deployctl(["rollback", "prod"])
      #expect(back.status == 0, "\(back.stderr)")
      let after = try await s.testbed.sshChecked(first, "cat /srv/\(s.app)/data/migrations")
      #expect(after == "migrated v1\nmigrated v2\n")
    }
  }

  @Test("a promote of a digest that ran it in FROM does not run it again; a dry run shows it")
  func promoteSkips() async throws {
    try await Scenario.with { s in
      try s.writeReleasePlan(env: [:])
      let secrets = ["MIGRATE_SECRET_ECHO": "x"]
      let dry = try await s.deployctl(
        ["deploy", "staging", "--image", "v1", "--dry-run"], environment: secrets)
      #expect(dry.status == 0, "\(dry.stderr)")
      #expect(dry.stderr.contains("would run release command: /bin/sh /migrate.sh"), "\(dry.stderr)")
      #expect(
        try await s.deployctl(["deploy", "staging", "--image", "v1"], environment: secrets).status == 0)
      let promote = try await s.deployctl(["promote", "staging", "prod"], environment: secrets)
      #expect(promote.status == 0, "\(promote.stderr)")
      #expect(try promote.report.releaseCommand?.result == .skipped)
      #expect(promote.stderr.contains("already ran it in staging"), "\(promote.stderr)")
      for host in s.hosts("prod") {
        #expect(try await s.testbed.ssh(host, "test -e /srv/\(s.app)/data/migrations").status != 0)
        #expect(try await s.version(on: host) == "v1")
      }
    }
  }

  @Test("a failing migration changes nothing: exit 1, its output shown, the old release serves")
  func failureChangesNothing() async throws {
    try await Scenario.with { s in
      try s.writeReleasePlan(env: [:])
      #expect(
        try await s.deployctl(
          ["deploy", "staging", "--image", "v1"], environment: ["MIGRATE_SECRET_ECHO": "x"]
        ).status == 0)
      try s.writeReleasePlan(env: ["MIGRATE_FAIL": "1"])
      let run = try await s.deployctl(
        ["deploy", "staging", "--image", "v2"], environment: ["MIGRATE_SECRET_ECHO": "x"])
      #expect(run.status == 1, "\(run.stderr)")
      #expect(run.stderr.contains("migrate: failing on purpose"), "\(run.stderr)")
      #expect(try run.report.releaseCommand?.result == .failed)
      #expect(try run.hosts.map(\.result) == [.skipped])
      for host in s.hosts("staging") {
        #expect(try await s.version(on: host) == "v1")
        let marker = try await s.testbed.sshChecked(host, "cat /srv/\(s.app)/data/migrations")
        #expect(marker == "migrated v1\n")
      }
    }
  }

  @Test("SIGINT during the migration removes its container and changes nothing")
  func interrupted() async throws {
    try await Scenario.with { s in
      try s.writeReleasePlan(env: [:])
      #expect(
        try await s.deployctl(
          ["deploy", "staging", "--image", "v1"], environment: ["MIGRATE_SECRET_ECHO": "x"]
        ).status == 0)
      try s.writeReleasePlan(env: ["MIGRATE_SLEEP": "120"])
      let run = try await s.start(
        ["deploy", "staging", "--image", "v2"], environment: ["MIGRATE_SECRET_ECHO": "x"])
      try await run.waitForOutput("release: migrate: starting (v2)")
      run.signal(SIGINT)
      let ended = try await run.finish()
      #expect(ended.status == 1, "\(ended.stderr)")
      #expect(ended.stderr.contains("removing its container"), "\(ended.stderr)")
      for host in s.hosts("staging") {
        #expect(try await s.version(on: host) == "v1")
        let left = try await s.testbed.sshChecked(host, "docker ps -a --format '{{.Names}}'")
        #expect(!left.contains("\(s.app)-release-"), "\(left)")
      }
    }
  }
}

extension Scenario {
  /// The scenario's plan with `release_command: [/bin/sh, /migrate.sh]`, a secret the migration
  /// may print, and `env` in the container.
  func writeReleasePlan(env: [String: String]) throws {
    let extra = env.sorted { $0.key < $1.key }.map { ", \($0.key): \"\($0.value)\"" }.joined()
    let plan = """
      app: \(app)
      image: \(testbed.image)
      container:
        ports: ["\(port):8080"]
        volumes: ["/srv/\(app)/data:/data"]
        env: {APP_ENV: "${environment}"\(extra)}
        secrets: [MIGRATE_SECRET_ECHO]
        stop_timeout: 5s
      health: {http: {port: \(port), path: /healthz}, interval: 500ms, timeout: 1s, retries: 6, start_period: 1s}
      release_command: [/bin/sh, /migrate.sh]
      release_timeout: 5m

      """
    try plan.write(toFile: playbooks + "/\(app).yml", atomically: true, encoding: .utf8)
  }
}
