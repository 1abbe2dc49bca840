import DeployConfig
import DeployEngine
import DeployKit
import Foundation
import Testing

/// The lock as a lease, end to end: the real binary against the testbed's two prod hosts, with a
/// short `lock.ttl` in the scenario's inventories. A holder that dies stops renewing and is taken
/// over once its lease expires; a live one renews and is never taken over; `--lock-wait` queues
/// a run behind the holder.
@Suite("Lock lease end to end", .enabled(if: Testbed.isAvailable))
struct LockLeaseTests {
  /// `slow` is healthy after about 5 s: health checks that wait for it.
  static var slowOptions: Scenario.Options {
    var options = Scenario.Options()
    options.startPeriod = "20s"
    options.retries = 3
    return options
  }

  /// What a run holding the lock in these tests is doing, as every holder message names it.
  static let slowDeploy = "deploy prod --image slow"

  /// Sets `lock: {ttl: …}` in the scenario's inventories and, with `preDeploySleep`, a
  /// `pre_deploy` hook that takes that long (the lock is held meanwhile), to make a rollout last.
  func configure(_ s: Scenario, ttl seconds: Int, preDeploySleep: Int? = nil) throws {
    for file in try FileManager.default.contentsOfDirectory(atPath: s.inventories)
    where file.hasSuffix(".yml") {
      let path = s.inventories + "/" + file
      let text = try String(contentsOfFile: path, encoding: .utf8)
      #expect(text.contains("\nhosts:\n"))
      try text.replacingOccurrences(of: "\nhosts:\n", with: "\nlock: {ttl: \(seconds)s}\nhosts:\n")
        .write(toFile: path, atomically: true, encoding: .utf8)
    }
    if let preDeploySleep {
      let plan = s.playbooks + "/\(s.app).yml"
      let text = try String(contentsOfFile: plan, encoding: .utf8)
      try (text + "hooks:\n  pre_deploy: [\"sleep\", \"\(preDeploySleep)\"]\n")
        .write(toFile: plan, atomically: true, encoding: .utf8)
    }
  }

  /// `lock prod status` as its JSON document.
  func lockStatus(_ s: Scenario) async throws -> (Scenario.Run, LockCommand.Report) {
    let run = try await s.deployctl(["lock", "prod", "status"])
    return (run, try run.document(LockCommand.Report.self))
  }

  /// The host's audit log, line by line.
  func audit(_ s: Scenario, _ host: Testbed.Host) async throws -> [AuditEntry] {
    AuditEntry.parseLines(
      try await s.testbed.sshChecked(host, "cat /var/lib/deployctl/\(s.app)/audit.log 2>/dev/null || true"))
  }

  @Test(
    "killed with -9 mid-rollout: the next run gets exit 4 until the lease expires, then takes over and says so",
    .tags(.long)
  )
  func killedHolderIsTakenOverAfterItsLease() async throws {
    let ttl = 10
    try await Scenario.with(Self.slowOptions) { s in
      try configure(s, ttl: ttl)
      let hosts = s.hosts("prod")
      #expect(hosts.count == 2)
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)

      let killed = try await s.start(["deploy", "prod", "--image", "slow"])
      try await killed.waitForOutput("health …")
      let pid = killed.pid
      killed.signal(SIGKILL)
      let killedAt = ContinuousClock.now
      let dead = try await killed.finish()
      #expect(dead.stdout.isEmpty, "a killed run writes no document: \(dead.stdout)")

      // Right after the kill its lease still runs (renewed every ttl/3): the next run is refused.
      let blocked = try await s.deployctl(["deploy", "prod", "--image", "v2"])
      #expect(blocked.status == 4, "\(blocked.stderr)")
      #expect(try blocked.report.result == .locked)
      let error = try blocked.report.error ?? ""
      #expect(error.contains(Self.slowDeploy) && error.contains("pid \(pid)"), "names the holder: \(error)")

      // `lock status` shows the lease running out: held, then no longer renewed.
      var expired: LockCommand.Report?
      let deadline = ContinuousClock.now + .seconds(3 * ttl + 30)
      while expired == nil, ContinuousClock.now < deadline {
        let (run, report) = try await lockStatus(s)
        #expect(run.status == 4, "still held: \(run.stdout)")
        #expect(report.hosts.allSatisfy { $0.state == "held" && ($0.holder ?? "").contains("pid \(pid)") })
        if report.hosts.allSatisfy({ $0.renewing == false }) {
          expired = report
        } else {
          try await Task.sleep(for: .milliseconds(500))
        }
      }
      let stale = try #require(expired, "the lease of the killed run never expired")
      #expect(stale.hosts.allSatisfy { ($0.expiresIn ?? 1) <= 0 }, "\(stale.hosts)")
      // Its last renewal was at most ttl/3 before the kill, so the lease ran at least 2/3 of it.
      #expect(ContinuousClock.now - killedAt >= .seconds(ttl / 2), "expired too early")

      let takeover = try await s.deployctl(["deploy", "prod", "--image", "v2"])
      #expect(takeover.status == 0, "\(takeover.stderr)")
      for host in hosts {
        let line = takeover.stderr.split(separator: "\n").first {
          $0.contains(" \(host.name) lock") && $0.contains("took over the lock of")
        }
        let said = String(try #require(line, "no takeover said for \(host.name):\n\(takeover.stderr)"))
        #expect(said.contains("pid \(pid)") && said.contains(Self.slowDeploy), "\(said)")
        let ago = try #require(
          said.firstMatch(of: /stopped renewing its lease (\d+)s ago/).flatMap { Int($0.1) }, "\(said)")
        #expect(ago >= ttl, "the lease lasts ttl after the last renewal: \(said)")
        #expect(try await s.version(on: host) == "v2")

        let takeovers = try await audit(s, host).filter { $0.command == .lockTakeover }
        #expect(takeovers.count == 1, "\(takeovers)")
        #expect((takeovers.first?.holder ?? "").contains("pid \(pid)"))
        #expect((takeovers.first?.stale ?? 0) >= ttl)
      }

      let history = try await s.deployctl(["history", "prod"])
      #expect(history.status == 0, "\(history.stderr)")
      let rows = try history.document(HistoryReport.self).releases
      let taken = rows.filter { $0.how == "lock-takeover" }
      #expect(taken.count == 1, "one row for the run that took over on both hosts: \(rows)")
      #expect(taken.first?.hosts.map(\.name) == hosts.map(\.name))
      #expect((taken.first?.holder ?? "").contains("pid \(pid)"))
      #expect((taken.first?.holder ?? "").contains(Self.slowDeploy))
      #expect((taken.first?.staleS ?? 0) >= ttl)
      #expect(taken.first?.release == nil)
      #expect(rows.filter { $0.how == "deploy" }.map(\.tag) == ["v2", "v1"])
      #expect(rows.first { $0.tag == "v2" }?.live == true)
      let text = try await s.deployctl(["history", "prod"], json: false)
      #expect(text.status == 0)
      let row = text.stdout.split(separator: "\n").first { $0.contains("lock-takeover") }
      #expect(row?.contains("took over 2/2 from") == true, "\(text.stdout)")
      #expect(row?.contains("pid \(pid)") == true, "\(text.stdout)")

      let (free, _) = try await lockStatus(s)
      #expect(free.status == 0, "released after the run that took over: \(free.stdout)")
    }
  }

  @Test(
    "a live rollout lasting several TTLs renews its lease: every run meanwhile gets exit 4, none takes over",
    .tags(.long))
  func liveHolderKeepsItsLease() async throws {
    let ttl = 4
    try await Scenario.with(Self.slowOptions) { s in
      // A slow pre-deploy check and the slow image on two hosts, one at a time: over 15 s.
      try configure(s, ttl: ttl, preDeploySleep: 6)
      let hosts = s.hosts("prod")
      let first = try await s.start(["deploy", "prod", "--image", "slow"])
      for host in hosts { try await first.waitForOutput(" \(host.name) lock, read state, pull ok") }

      // Once the last host is healthy the holder starts recording and unlocking: what runs after
      // that may find the lock free, so only runs that ended before it count.
      let lastHealthy = " \(hosts[hosts.count - 1].name) health ok"
      func holding() -> Bool { first.isRunning && !first.stderrSoFar.contains(lastHealthy) }
      var probes = 0
      while holding() {
        let probe = try await s.deployctl(["deploy", "prod", "--image", "v2"])
        let (status, lock) = try await lockStatus(s)
        guard holding() else { break }
        probes += 1
        #expect(probe.status == 4, "\(probe.stderr)")
        #expect(try (probe.report.error ?? "").contains(Self.slowDeploy))
        #expect(!probe.stderr.contains("took over"))
        #expect(status.status == 4, "\(status.stdout)")
        for host in lock.hosts {
          #expect(host.state == "held" && host.renewing == true, "\(host)")
          #expect((host.expiresIn ?? 0) > 0, "\(host)")
          #expect((host.holder ?? "").contains(Self.slowDeploy))
        }
      }
      let run = try await first.finish()
      #expect(run.status == 0, "\(run.stderr)")
      #expect(!run.stderr.contains("no longer ours"), "\(run.stderr)")
      #expect(try run.report.durationMs >= 3 * ttl * 1000, "the rollout lasted several TTLs")
      #expect(probes >= 3, "runs tried while it held the lock: \(probes)")
      #expect(try run.hosts.allSatisfy { $0.result == .deployed }, "\(run.stdout)")
      // (The run that raced its end may have deployed v2 after it: what the hosts run now is not
      // the point; that nobody took the lock from it is.)
      for host in hosts {
        #expect(try await audit(s, host).allSatisfy { $0.command != .lockTakeover })
      }
      let (free, _) = try await lockStatus(s)
      #expect(free.status == 0, "\(free.stdout)")
    }
  }

  @Test(
    "--lock-wait: two deploys at once both succeed, one after the other; the second says how long it waited",
    .tags(.long))
  func lockWaitQueuesTheSecondRun() async throws {
    try await Scenario.with(Self.slowOptions) { s in
      try configure(s, ttl: 4)
      let first = try await s.start(["deploy", "prod", "--image", "slow", "--lock-wait", "2m"])
      try await first.waitForOutput("health …")
      let second = try await s.start(["deploy", "prod", "--image", "v2", "--lock-wait", "2m"])
      try await second.waitForOutput("for the lock: ")
      let waiting = second.stderrSoFar.split(separator: "\n").first { $0.contains("for the lock: ") } ?? ""
      #expect(waiting.contains("waiting up to") && waiting.contains(Self.slowDeploy), "\(waiting)")

      let firstRun = try await first.finish()
      let secondRun = try await second.finish()
      #expect(firstRun.status == 0, "\(firstRun.stderr)")
      #expect(secondRun.status == 0, "\(secondRun.stderr)")
      #expect(try firstRun.report.waitedMs == 0)
      #expect(try secondRun.report.waitedMs > 0)
      // One after the other: the second replaced what the first put there.
      let firstRelease = try #require(try firstRun.report.release?.id)
      #expect(try secondRun.report.previousRelease?.id == firstRelease)
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v2") }
    }
  }

  @Test("--lock-wait ends with exit 4 when the holder outlasts it, having changed nothing", .tags(.long))
  func lockWaitGivesUp() async throws {
    try await Scenario.with(Self.slowOptions) { s in
      try configure(s, ttl: 4, preDeploySleep: 6)
      let hosts = s.hosts("prod")
      let first = try await s.start(["deploy", "prod", "--image", "slow"])
      for host in hosts { try await first.waitForOutput(" \(host.name) lock, read state, pull ok") }
      let second = try await s.deployctl(["deploy", "prod", "--image", "v2", "--lock-wait", "3s"])
      try #require(
        !first.stderrSoFar.contains(" \(hosts[hosts.count - 1].name) health ok"),
        "the holder was meant to outlast the wait")
      #expect(second.status == 4, "\(second.stderr)")
      #expect(try second.report.result == .locked)
      #expect(try second.report.waitedMs >= 3000)
      let error = try second.report.error ?? ""
      #expect(error.contains(Self.slowDeploy) && error.contains("--lock-wait"), "\(error)")
      #expect(second.stderr.contains("waiting up to"))

      let run = try await first.finish()
      #expect(run.status == 0, "\(run.stderr)")
      for host in hosts { #expect(try await s.version(on: host) == "slow") }
      let history = try await s.deployctl(["history", "prod"])
      #expect(try history.document(HistoryReport.self).releases.map(\.tag) == ["slow"])
    }
  }

  @Test("SIGINT during a --lock-wait wait ends the run at once, having changed nothing", .tags(.long))
  func interruptedWaitEndsAtOnce() async throws {
    try await Scenario.with(Self.slowOptions) { s in
      try configure(s, ttl: 4, preDeploySleep: 6)
      let hosts = s.hosts("prod")
      let first = try await s.start(["deploy", "prod", "--image", "slow"])
      for host in hosts { try await first.waitForOutput(" \(host.name) lock, read state, pull ok") }
      let second = try await s.start(["deploy", "prod", "--image", "v2", "--lock-wait", "10m"])
      try await second.waitForOutput("waiting up to")
      second.signal(SIGINT)
      let signalled = ContinuousClock.now
      let interrupted = try await second.finish()
      #expect(ContinuousClock.now - signalled < .seconds(15), "a 10m wait ends at the signal")
      #expect(interrupted.status == 4, "\(interrupted.stderr)")
      #expect(try interrupted.report.result == .locked)
      #expect(
        !first.stderrSoFar.contains(" \(hosts[hosts.count - 1].name) health ok"),
        "the holder still held the lock: the signal ended the wait")

      let run = try await first.finish()
      #expect(run.status == 0, "\(run.stderr)")
      for host in hosts { #expect(try await s.version(on: host) == "slow") }
      let history = try await s.deployctl(["history", "prod"])
      #expect(try history.document(HistoryReport.self).releases.map(\.tag) == ["slow"])
    }
  }
}
