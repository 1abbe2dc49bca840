import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

/// The rollout's decisions without hosts: `RolloutEngine` drives `FakeHost`s, a conformer of
/// `RolloutHost` that answers each step as a test scripts it and writes down what it was asked.
/// (The real conformer, `DockerHost`, is exercised end to end in DeployctlTests.)
@Suite struct RolloutEngineTests {
  /// What a fake host does when asked.
  struct Script: Sendable {
    var unreachable = false
    /// Another run holds the lock for this many `prepare` attempts.
    var lockedFor = 0
    var installFails = false
    var unhealthy = false
    var restoreFails = false
    /// Asks the run to stop (as SIGINT would) while this host installs.
    var interruptDuringInstall = false
    /// Asks the run to stop while this host is prepared.
    var interruptDuringPrepare = false
  }

  final class Journal: Sendable {
    let entries = Locked<[String]>([])
    func add(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.current }
    func of(_ host: String) -> [String] {
      all.filter { $0.hasPrefix(host + " ") }.map { String($0.dropFirst(host.count + 1)) }
    }
    /// The hosts asked to do `step`, in order.
    func hosts(_ step: String) -> [String] {
      all.compactMap { entry in
        let parts = entry.split(separator: " ", maxSplits: 1)
        return parts.count == 2 && parts[1] == step ? String(parts[0]) : nil
      }
    }
  }

  final class FakeHost: RolloutHost {
    let name: String
    let script: Script
    let journal: Journal
    let snapshot: HostSnapshot
    let stop: StopRequest
    let attempts = Locked(0)
    let commits = Locked<[HostCommit]>([])

    init(_ name: String, _ script: Script, journal: Journal, snapshot: HostSnapshot, stop: StopRequest) {
      self.name = name
      self.script = script
      self.journal = journal
      self.snapshot = snapshot
      self.stop = stop
    }

    var steps: [StepTiming] { [] }

    func prepare(_ request: PrepareRequest) async -> PrepareResult {
      journal.add("\(name) prepare")
      if script.interruptDuringPrepare { stop.request("SIGTERM") }
      if script.unreachable {
        return PrepareResult(
          outcome: .failed(.unreachable, HostFailure(.prepare, "\(name): connection refused")))
      }
      let attempt = attempts.withLock { n -> Int in
        n += 1
        return n
      }
      if attempt <= script.lockedFor {
        return PrepareResult(
          outcome: .locked(
            HeldLock(holder: LockHolder(user: "bob", host: "ci", pid: 7, command: "deploy prod"), host: name))
        )
      }
      return PrepareResult(outcome: .ready, snapshot: snapshot)
    }

    func install(_ plan: InstallPlan) async throws {
      journal.add("\(name) install")
      if script.interruptDuringInstall { stop.request("SIGINT") }
      try await Task.sleep(for: .milliseconds(5))
      if script.installFails { throw TestError("docker run failed on \(name)") }
    }

    func check(_ plan: InstallPlan) async throws {
      journal.add("\(name) check")
      if script.unhealthy { throw TestError("\(name): HTTP 500, expected 200") }
    }

    func restore(_ plan: InstallPlan) async throws {
      journal.add("\(name) restore")
      if script.restoreFails { throw TestError("\(name): the engine is not running") }
    }

    func commit(_ commit: HostCommit) async throws {
      journal.add("\(name) commit")
      commits.withLock { $0.append(commit) }
    }
  }

  struct TestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
  }

  struct Run {
    var report: CommandReport
    var heldLocks: [HeldLock]
    var journal: Journal
    var hosts: [FakeHost]
    func result(_ host: String) -> HostResult? { report.hosts.first { $0.name == host }?.result }
    func commit(_ host: String) -> HostCommit? { hosts.first { $0.name == host }?.commits.current.first }
  }

  static let previous: ReleaseRecord = {
    var spec = try! fullSpec()
    spec.release = "20261101-100000-aaaa"
    spec.environment = "prod"
    spec.envFile = nil
    return try! ReleaseRecord(
      container: spec, createdAt: Date(timeIntervalSince1970: 1_790_000_000), user: "alice", how: .deploy,
      result: .deployed)
  }()

  /// A prod environment of `count` hosts named h1…hN, with this rollout section.
  func plan(_ count: Int, batch: String, maxFailures: Int = 0, auto: Bool = true, keep: Int = 5) throws
    -> EnvironmentPlan
  {
    let hosts = (1...count).map { "  h\($0):\n    address: 10.0.0.\($0)\n" }.joined()
    let fixture = try ConfigFixture(
      [
        "inventories/prod.yml": "environment: prod\nssh:\n  user: deploy\nhosts:\n\(hosts)",
        "playbooks/web.yml": """
        app: web
        image: registry.example.com/acme/web
        container:
          ports: ["8080:8080"]
        rollout:
          batch: \(batch)
          max_failures: \(maxFailures)
        rollback:
          auto: \(auto)
          keep: \(keep)

        """,
      ], base: false)
    let project = try fixture.load()
    return try project.plan(app: "web").resolved(for: project.inventory(named: "prod"))
  }

  func run(
    _ plan: EnvironmentPlan, _ scripts: [String: Script] = [:], kind: RolloutRequest.Kind? = nil,
    dryRun: Bool = false, records: [ReleaseRecord]? = nil
  ) async throws -> Run {
    let journal = Journal()
    let stop = StopRequest()
    let releases = records ?? [Self.previous]
    let snapshot = HostSnapshot(
      releases: HostReleases(current: releases.first?.id, records: releases, unreadable: []), container: nil)
    let hosts = plan.hosts.map { host in
      FakeHost(
        host.host.name, scripts[host.host.name] ?? Script(), journal: journal, snapshot: snapshot, stop: stop)
    }
    let image = try ImageReference.parse(
      "registry.example.com/acme/web:v2@sha256:" + String(repeating: "ab", count: 32))
    let request = RolloutRequest(
      kind: kind ?? .deploy(image), plan: plan, dryRun: dryRun, user: "alice",
      commandLine: "deploy prod --image v2")
    let progress = ProgressLog(terminal: Terminal(colors: false, write: { _ in }))
    let outcome = await RolloutEngine(request: request, hosts: hosts, progress: progress, stop: stop)
      .execute()
    return Run(report: outcome.report, heldLocks: outcome.heldLocks, journal: journal, hosts: hosts)
  }

  @Test("batch 50% of 4 hosts: two batches of two, every host deployed, recorded and unlocked")
  func halfAtATime() async throws {
    let run = try await run(plan(4, batch: "\"50%\""))
    #expect(run.report.result == .success)
    #expect(run.report.exitCode == 0)
    let installs = run.journal.hosts("install")
    #expect(Set(installs.prefix(2)) == ["h1", "h2"])
    #expect(Set(installs.suffix(2)) == ["h3", "h4"])
    // The second batch starts only after the first is healthy.
    let all = run.journal.all
    let lastCheckOfFirst = all.lastIndex { $0 == "h1 check" || $0 == "h2 check" }!
    let firstInstallOfSecond = all.firstIndex { $0 == "h3 install" || $0 == "h4 install" }!
    #expect(lastCheckOfFirst < firstInstallOfSecond)
    for host in ["h1", "h2", "h3", "h4"] {
      #expect(run.result(host) == .deployed)
      #expect(run.journal.of(host) == ["prepare", "install", "check", "commit"])
      let commit = try #require(run.commit(host))
      #expect(commit.current == .set(run.report.release!.id))
      #expect(commit.audit?.result == .succeeded)
      #expect(commit.records.first?.result == .deployed)
    }
  }

  @Test("batch as a number and as a list: the sizes follow Ansible's serial")
  func batchSizes() async throws {
    let two = try await run(plan(5, batch: "2"))
    #expect(two.report.result == .success)
    let list = try plan(10, batch: "[1, \"50%\"]")
    var machine = RolloutMachine(hostCount: 10, settings: .init(batch: list.rollout.batch))
    _ = machine.start()
    var actions: [RolloutMachine.Action] = []
    for i in 0..<10 { actions += machine.handle(.prepared(host: i, .ready)) }
    #expect(actions == [.choose])
    #expect(machine.handle(.chosen(refusal: nil, settled: [:])) == [.install(host: 0)])
    #expect(machine.batches.map(\.count) == [1, 5, 4])
  }

  @Test("max_failures 1 with batch 50%: one host fails and is restored, the rollout goes on")
  func oneFailureTolerated() async throws {
    let run = try await run(plan(4, batch: "\"50%\"", maxFailures: 1), ["h2": Script(unhealthy: true)])
    #expect(run.result("h2") == .rolledBack)
    #expect(run.journal.of("h2") == ["prepare", "install", "check", "restore", "commit"])
    for host in ["h1", "h3", "h4"] { #expect(run.result(host) == .deployed) }
    // Not every host runs the release: exit 1, though the others stay on it.
    #expect(run.report.result == .failed)
    #expect(run.report.exitCode == 1)
    let commit = try #require(run.commit("h2"))
    #expect(commit.records.first?.result == .failed)
    #expect(commit.current == .set(Self.previous.id))
    #expect(commit.audit?.result == .rolledBack)
  }

  @Test("failures over max_failures: the rollout stops, moved hosts go back, the rest never start")
  func stopAndRollBack() async throws {
    let run = try await run(plan(4, batch: "\"50%\""), ["h2": Script(unhealthy: true)])
    #expect(run.report.result == .failed)
    #expect(run.result("h1") == .rolledBack)
    #expect(run.result("h2") == .rolledBack)
    #expect(run.result("h3") == .skipped)
    #expect(run.result("h4") == .skipped)
    #expect(run.journal.of("h1") == ["prepare", "install", "check", "restore", "commit"])
    #expect(run.journal.of("h3") == ["prepare", "commit"])
    #expect(run.commit("h1")?.records.first?.result == .rolledBack)
    #expect(run.commit("h3")?.records.isEmpty == true)
    #expect(run.commit("h3")?.current == .keep)
    #expect(run.report.error?.contains("max_failures: 0") == true)
  }

  @Test("rollback.auto false: the failed host goes back, the healthy one stays on the release")
  func noAutoRollback() async throws {
    let run = try await run(plan(4, batch: "\"50%\"", auto: false), ["h2": Script(unhealthy: true)])
    #expect(run.result("h1") == .deployed)
    #expect(run.result("h2") == .rolledBack)
    #expect(run.result("h3") == .skipped)
    #expect(run.report.exitCode == 1)
    #expect(!run.journal.of("h1").contains("restore"))
  }

  @Test("a restore that fails: exit 3 and the host named")
  func restoreFails() async throws {
    let run = try await run(plan(2, batch: "1"), ["h1": Script(unhealthy: true, restoreFails: true)])
    #expect(run.report.result == .needsAttention)
    #expect(run.report.exitCode == 3)
    #expect(run.result("h1") == .restoreFailed)
    #expect(run.report.hosts[0].error?.contains("the engine is not running") == true)
    #expect(run.commit("h1")?.audit?.result == .needsAttention)
    #expect(run.result("h2") == .skipped)
  }

  @Test("an install that fails is restored like an unhealthy one")
  func installFails() async throws {
    let run = try await run(plan(2, batch: "1", maxFailures: 1), ["h1": Script(installFails: true)])
    #expect(run.journal.of("h1") == ["prepare", "install", "restore", "commit"])
    #expect(run.result("h1") == .rolledBack)
    #expect(run.result("h2") == .deployed)
  }

  @Test("an unreachable host before anything changed: nothing installed anywhere, exit 1")
  func unreachableFirst() async throws {
    let run = try await run(plan(3, batch: "\"100%\""), ["h2": Script(unreachable: true)])
    #expect(run.report.exitCode == 1)
    #expect(run.journal.hosts("install").isEmpty)
    #expect(run.result("h2") == .unreachable)
    // The hosts that were locked are unlocked; the unreachable one holds no lock of ours.
    #expect(Set(run.journal.hosts("commit")) == ["h1", "h3"])
    #expect(run.report.error?.contains("nothing was changed") == true)
  }

  @Test("unreachable within max_failures: the others go on")
  func unreachableTolerated() async throws {
    let run = try await run(plan(3, batch: "\"100%\"", maxFailures: 1), ["h2": Script(unreachable: true)])
    #expect(run.result("h1") == .deployed)
    #expect(run.result("h3") == .deployed)
    #expect(run.report.exitCode == 1)
  }

  @Test("SIGINT while installing: the step finishes, moved hosts go back, the rest are skipped")
  func interrupted() async throws {
    let run = try await run(plan(3, batch: "1"), ["h1": Script(interruptDuringInstall: true)])
    #expect(run.result("h1") == .rolledBack)
    #expect(run.result("h2") == .skipped)
    #expect(run.result("h3") == .skipped)
    #expect(run.report.exitCode == 1)
    #expect(run.journal.hosts("install") == ["h1"])
    #expect(Set(run.journal.hosts("commit")) == ["h1", "h2", "h3"])
  }

  @Test("SIGTERM while preparing: nothing installs anywhere, every lock taken is released")
  func interruptedWhilePreparing() async throws {
    let run = try await run(plan(3, batch: "1"), ["h2": Script(interruptDuringPrepare: true)])
    #expect(run.journal.hosts("install").isEmpty)
    #expect(Set(run.journal.hosts("commit")) == ["h1", "h2", "h3"])
    #expect(run.report.exitCode == 1)
    #expect(run.report.error == "rollout stopped: interrupted by SIGTERM")
    #expect(run.report.hosts.allSatisfy { $0.result == .skipped })
  }

  @Test("another run holds the lock on a later host: this run, holding the first, waits its turn")
  func lockRaceWon() async throws {
    let run = try await run(plan(3, batch: "\"100%\""), ["h3": Script(lockedFor: 2)])
    #expect(run.report.result == .success)
    #expect(run.journal.of("h3").prefix(3) == ["prepare", "prepare", "prepare"])
  }

  @Test("another run holds the lock on the first host: exit 4 naming it, our locks released")
  func lockRaceLost() async throws {
    let run = try await run(plan(3, batch: "\"100%\""), ["h1": Script(lockedFor: 100)])
    #expect(run.report.result == .locked)
    #expect(run.report.exitCode == 4)
    #expect(run.report.error?.contains("bob@ci") == true)
    // For `--lock-wait`: who holds it, as values.
    #expect(run.heldLocks.map(\.host) == ["h1"])
    #expect(run.heldLocks.first?.holder?.user == "bob")
    #expect(run.journal.hosts("install").isEmpty)
    #expect(Set(run.journal.hosts("commit")) == ["h2", "h3"])
  }

  @Test("dry run: hosts are read and unlocked, nothing installed")
  func dryRun() async throws {
    let run = try await run(plan(2, batch: "1"), dryRun: true)
    #expect(run.report.result == .success)
    #expect(run.journal.hosts("install").isEmpty)
    #expect(run.report.hosts.allSatisfy { $0.result == .planned })
  }

  @Test("rollback with nothing to go back to: refused (exit 2) before any change")
  func rollbackWithoutPrevious() async throws {
    let run = try await run(plan(2, batch: "1"), kind: .rollback(to: nil))
    #expect(run.report.result == .refused)
    #expect(run.report.exitCode == 2)
    #expect(run.report.error?.contains("no earlier release") == true)
    #expect(run.journal.hosts("install").isEmpty)
  }

  @Test("retention: a deploy keeps `keep` healthy releases and forgets the older ones")
  func retention() async throws {
    func record(_ n: Int, _ result: ReleaseResult = .deployed) throws -> ReleaseRecord {
      var spec = try fullSpec()
      spec.release = "20261101-10000\(n)-aaaa"
      spec.environment = "prod"
      return try ReleaseRecord(
        container: spec, createdAt: Date(timeIntervalSince1970: 1_790_000_000 + Double(n)), user: "alice",
        how: .deploy, result: result)
    }
    let records = try [record(4), record(3, .failed), record(2), record(1)]
    let run = try await run(plan(1, batch: "1", keep: 2), records: records)
    let commit = try #require(run.commit("h1"))
    // Kept: the new release and release 4; forgotten: 3 (failed), 2 and 1.
    #expect(Set(commit.forget.map(\.id)) == Set([records[1], records[2], records[3]].map(\.id)))
  }

  @Test("the verdict: 0 only when every host runs the release")
  func verdicts() {
    var machine = RolloutMachine(hostCount: 2, settings: .init(batch: .oneAtATime))
    _ = machine.start()
    _ = machine.handle(.prepared(host: 0, .ready))
    _ = machine.handle(.prepared(host: 1, .ready))
    #expect(machine.handle(.chosen(refusal: nil, settled: [1: .unchanged])) == [.install(host: 0)])
    #expect(machine.handle(.installed(host: 0, failure: nil)) == [.check(host: 0)])
    #expect(machine.handle(.checked(host: 0, failure: nil)) == [.verify(hosts: [0])])
    #expect(machine.handle(.verified(failedOn: [])) == [.commit(host: 0), .commit(host: 1)])
    _ = machine.handle(.committed(host: 0, failure: nil))
    #expect(!machine.isFinished)
    _ = machine.handle(.committed(host: 1, failure: nil))
    #expect(machine.isFinished)
    #expect(machine.verdict == .success)
  }

  @Test("a failed verification is a failed rollout: every host goes back")
  func verificationFails() {
    var machine = RolloutMachine(hostCount: 2, settings: .init(batch: BatchPolicy([.percent(100)])))
    _ = machine.start()
    _ = machine.handle(.prepared(host: 0, .ready))
    _ = machine.handle(.prepared(host: 1, .ready))
    _ = machine.handle(.chosen(refusal: nil, settled: [:]))
    for i in 0..<2 {
      _ = machine.handle(.installed(host: i, failure: nil))
    }
    _ = machine.handle(.checked(host: 0, failure: nil))
    #expect(machine.handle(.checked(host: 1, failure: nil)) == [.verify(hosts: [0, 1])])
    #expect(
      machine.handle(.verified(failedOn: ["h1"]))
        == [.restore(host: 0, undoing: true), .restore(host: 1, undoing: true)])
    _ = machine.handle(.restored(host: 0, failure: nil))
    #expect(machine.handle(.restored(host: 1, failure: nil)) == [.commit(host: 0), .commit(host: 1)])
    #expect(machine.verdict == .failed)
    #expect(machine.stopped == .verificationFailed(hosts: ["h1"]))
  }
}
