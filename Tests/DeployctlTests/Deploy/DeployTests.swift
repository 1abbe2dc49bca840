import DeployEngine
import DeployKit
import Foundation
import Testing

/// deploy, rollback, status and lock end to end: the real binary against the testbed's real
/// sshd, dockerd and registry (README "Testbed").
@Suite("Deploy end to end", .enabled(if: Testbed.isAvailable))
struct DeployTests {
  @Test("v1 then v2 to every prod host; volume data survives; labels and records are on the host")
  func deployAndUpgradeKeepsVolumeData() async throws {
    try await Scenario.with { s in
      let v1 = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      #expect(v1.status == 0, "\(v1.stderr)")
      #expect(try v1.report.result == .success)
      let release1 = try #require(try v1.report.release?.id)
      let image1 = try #require(try v1.report.release?.image)
      #expect(image1.hasPrefix(s.testbed.image + "@sha256:"))
      for host in s.hosts("prod") {
        #expect(try await s.version(on: host) == "v1")
        #expect(try v1.host(host.name)?.result == .deployed)
        let labels = try await s.testbed.sshChecked(
          host, "docker inspect --format '{{json .Config.Labels}}' \(s.app)")
        #expect(labels.contains("\"deployctl.release\":\"\(release1)\""))
        #expect(labels.contains("\"deployctl.environment\":\"prod\""))
        #expect(labels.contains("\"deployctl.app\":\"\(s.app)\""))
        let current = try await s.testbed.sshChecked(
          host, "cat /var/lib/deployctl/\(s.app)/releases/prod/current")
        #expect(current.trimmingCharacters(in: .whitespacesAndNewlines) == release1)
        try await s.testbed.sshChecked(
          host, "docker exec \(s.app) sh -c 'echo kept-\(host.name) > /data/note.txt'")
      }
      // The progress a user watches: every host pulled the image and passed its health check.
      for host in s.hosts("prod") {
        #expect(v1.stepDone(host.name, "lock, read state, pull"), "\(v1.stderr)")
        #expect(v1.stepDone(host.name, "health"), "\(v1.stderr)")
      }

      let v2 = try await s.deployctl(["deploy", "prod", "--image", "v2"])
      #expect(v2.status == 0, "\(v2.stderr)")
      #expect(try v2.report.previousRelease?.id == release1)
      for host in s.hosts("prod") {
        #expect(try await s.version(on: host) == "v2")
        let note = try await s.testbed.sshChecked(host, "cat /srv/\(s.app)/data/note.txt")
        #expect(note.trimmingCharacters(in: .whitespacesAndNewlines) == "kept-\(host.name)")
        let audit = try await s.testbed.sshChecked(host, "cat /var/lib/deployctl/\(s.app)/audit.log")
        #expect(audit.split(separator: "\n").count == 2)
      }
    }
  }

  @Test("a release whose health check fails: every host back on the previous release, exit 1")
  func brokenReleaseRollsBack() async throws {
    try await Scenario.with { s in
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v2"]).status == 0)
      let broken = try await s.deployctl(["deploy", "prod", "--image", "broken"])
      #expect(broken.status == 1, "\(broken.stderr)")
      #expect(try broken.report.result == .failed)
      let results = Set(try broken.hosts.map(\.result))
      #expect(results.isSubset(of: [.rolledBack, .skipped]))
      #expect(results.contains(.rolledBack))
      #expect(broken.stderr.contains("/healthz") || broken.stderr.contains("404"))
      for host in s.hosts("prod") {
        #expect(try await s.version(on: host) == "v2")
      }
    }
  }

  @Test("a release that exits at once fails without waiting out the retries")
  func crashingReleaseFailsFast() async throws {
    var options = Scenario.Options()
    options.retries = 50
    options.startPeriod = "30s"
    try await Scenario.with(options) { s in
      #expect(try await s.deployctl(["deploy", "staging", "--image", "v1"]).status == 0)
      let crash = try await s.deployctl(["deploy", "staging", "--image", "crash"])
      #expect(crash.status == 1, "\(crash.stderr)")
      #expect(crash.stderr.contains("container is not running"), "\(crash.stderr)")
      for host in s.hosts("staging") { #expect(try await s.version(on: host) == "v1") }
    }
  }

  @Test("a slow-starting release passes within its start period")
  func slowStartPasses() async throws {
    var options = Scenario.Options()
    options.startPeriod = "15s"
    options.retries = 3
    try await Scenario.with(options) { s in
      let slow = try await s.deployctl(["deploy", "dev", "--image", "slow"])
      #expect(slow.status == 0, "\(slow.stderr)")
      for host in s.hosts("dev") {
        #expect(try await s.version(on: host) == "slow")
      }
    }
  }

  @Test("rollback goes back one release; rollback --to a kept release by tag")
  func rollbackAndRollbackTo() async throws {
    try await Scenario.with { s in
      for tag in ["v1", "v2", "v3"] {
        let run = try await s.deployctl(["deploy", "prod", "--image", tag])
        #expect(run.status == 0, "\(run.stderr)")
      }
      let back = try await s.deployctl(["rollback", "prod"])
      #expect(back.status == 0, "\(back.stderr)")
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v2") }
      let to = try await s.deployctl(["rollback", "prod", "--to", "v1"])
      #expect(to.status == 0, "\(to.stderr)")
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v1") }
      let missing = try await s.deployctl(["rollback", "prod", "--to", "v9"])
      #expect(missing.status == 2)
      #expect(missing.stdout.contains("no kept release matches v9"))
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v1") }
    }
  }

  @Test("a first deploy that fails leaves no container of ours running")
  func failedFirstDeployLeavesNothing() async throws {
    try await Scenario.with { s in
      let run = try await s.deployctl(["deploy", "dev", "--image", "broken"])
      #expect(run.status == 1)
      for host in s.hosts("dev") {
        let running = try await s.testbed.sshChecked(
          host, "docker ps -q --filter label=deployctl.app=\(s.app)")
        #expect(running.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
      }
    }
  }

  @Test("two deploys at once: one exits 4 and names the holder")
  func concurrentDeploysLock() async throws {
    var options = Scenario.Options()
    options.startPeriod = "20s"
    options.retries = 3
    try await Scenario.with(options) { s in
      // `slow` takes seconds to become healthy, so the first run surely holds the lock.
      let first = try await s.start(["deploy", "prod", "--image", "slow"])
      try await first.waitForOutput("health …")
      let second = try await s.deployctl(["deploy", "prod", "--image", "v2"])
      let firstRun = try await first.finish()
      #expect(firstRun.status == 0, "\(firstRun.stderr)")
      #expect(second.status == 4, "\(second.stderr)")
      #expect(second.stderr.contains("locked"))
      #expect(second.stderr.contains("deploy prod --image slow"))
      let lock = try await s.deployctl(["lock", "prod", "status"])
      #expect(lock.status == 0, "lock released after the first run: \(lock.stdout)")
    }
  }

  @Test("SIGINT mid-rollout: no half state, lock released")
  func interruptRollsBackAndUnlocks() async throws {
    var options = Scenario.Options()
    options.startPeriod = "20s"
    options.retries = 3
    try await Scenario.with(options) { s in
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
      let run = try await s.start(["deploy", "prod", "--image", "slow"])
      try await run.waitForOutput("health …")
      run.signal(SIGINT)
      let result = try await run.finish()
      #expect(result.status == 1, "\(result.stderr)")
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v1") }
      let lock = try await s.deployctl(["lock", "prod", "status"])
      #expect(lock.status == 0, "\(lock.stdout)")
    }
  }

  @Test("a secret reaches the container but no process list, log, audit line or JSON")
  func secretsStaySecret() async throws {
    var options = Scenario.Options()
    options.secrets = ["DATABASE_URL"]
    try await Scenario.with(options) { s in
      let secret = "postgres://u:s3cr3t-\(UUID().uuidString)@db/app"
      let run = try await s.start(["deploy", "dev", "--image", "v1"], environment: ["DATABASE_URL": secret])
      // deployctl's own command line (the secret comes through its environment only), read while
      // it runs: a deploy to one host can be over before the hosts' process lists are read.
      // Read right after the spawn, the file can still be empty (the exec is under way): poll, bounded.
      var cmdline = ""
      var reads = 0
      while !cmdline.contains("deploy\0"), reads < 100 {
        if reads > 0 { try await Task.sleep(for: .milliseconds(20)) }
        cmdline = (try? String(contentsOfFile: "/proc/\(run.pid)/cmdline", encoding: .utf8)) ?? ""
        reads += 1
      }
      #expect(cmdline.contains("deploy\0dev\0--image\0v1"), "read deployctl's command line: \(cmdline)")
      try await run.waitForOutput("replace container")
      var seen = cmdline
      for host in s.hosts("dev") {
        seen += try await s.testbed.ssh(host, "ps -eo args").stdout
      }
      let result = try await run.finish()
      #expect(result.status == 0, "\(result.stderr)")
      #expect(!seen.contains(secret))
      #expect(!result.stdout.contains(secret))
      #expect(!result.stderr.contains(secret))
      for host in s.hosts("dev") {
        let env = try await s.testbed.sshChecked(host, "docker exec \(s.app) env")
        #expect(env.contains("DATABASE_URL=\(secret)"))
        let state = try await s.testbed.sshChecked(
          host, "cat /var/lib/deployctl/\(s.app)/audit.log /var/lib/deployctl/\(s.app)/releases/dev/*.json")
        #expect(!state.contains(secret))
        let mode = try await s.testbed.sshChecked(
          host, "stat -c %a /var/lib/deployctl/\(s.app)/secrets/dev/*.env")
        #expect(mode.trimmingCharacters(in: .whitespacesAndNewlines) == "600")
      }
      let missing = try await s.deployctl(["deploy", "dev", "--image", "v2"])
      #expect(missing.status == 2, "a secret not set is refused before touching hosts")
      #expect(missing.stdout.contains("DATABASE_URL"))
      for host in s.hosts("dev") { #expect(try await s.version(on: host) == "v1") }
    }
  }

  @Test("a host presenting a changed host key is refused before anything changes")
  func changedHostKeyRefused() async throws {
    try await Scenario.with { s in
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
      let victim = s.hosts("prod")[1]
      try await s.testbed.rekey(victim)
      do {
        let run = try await s.deployctl(["deploy", "prod", "--image", "v2"])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stdout.contains("SHA256:"))
        #expect(try run.host(victim.name)?.result == .unreachable)
      } catch {
        try await s.testbed.restoreKey(victim)
        throw error
      }
      try await s.testbed.restoreKey(victim)
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v1") }
    }
  }

  @Test("a host cut mid-rollout: the others go back, exit 1 or 3 as truthfully applies", .tags(.long))
  func hostCutMidRollout() async throws {
    var options = Scenario.Options()
    options.retries = 4
    try await Scenario.with(options) { s in
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
      let hosts = s.hosts("prod")
      let run = try await s.start(["deploy", "prod", "--image", "v2"])
      try await run.waitForOutput("\(hosts[1].name) replace container")
      try await s.testbed.cut(hosts[1])
      let result: Scenario.Run
      do {
        result = try await run.finish()
      } catch {
        try await s.testbed.heal(hosts[1])
        throw error
      }
      try await s.testbed.heal(hosts[1])
      #expect(result.status == 1 || result.status == 3, "\(result.stderr)")
      #expect(try await s.version(on: hosts[0]) == "v1")
      if result.status == 3 {
        #expect(try result.host(hosts[1].name)?.result == .restoreFailed)
      } else {
        #expect(try await s.version(on: hosts[1]) == "v1")
      }
    }
  }

  @Test("dry run prints what would change and touches nothing")
  func dryRunTouchesNothing() async throws {
    try await Scenario.with { s in
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
      let dry = try await s.deployctl(["deploy", "prod", "--image", "v2", "--dry-run"])
      #expect(dry.status == 0, "\(dry.stderr)")
      #expect(dry.stderr.contains("would run"))
      #expect(try dry.report.dryRun)
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v1") }
    }
  }

  @Test("status shows release, digest, state and health per host")
  func statusPerHost() async throws {
    try await Scenario.with { s in
      let deploy = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      let image = try #require(try deploy.report.release?.image)
      let status = try await s.deployctl(["status", "prod"])
      #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
      let report = try status.document(StatusReport.self)
      #expect(Set(report.hosts.map(\.name)) == Set(s.hosts("prod").map(\.name)))
      for host in report.hosts {
        #expect(host.reachable)
        #expect(host.state == "running")
        #expect(host.health == "healthy")
        #expect(host.image == image)
      }
    }
  }
}
