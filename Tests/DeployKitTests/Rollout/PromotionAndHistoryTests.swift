import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

/// The decisions `promote` and `history` make from what hosts report; the hosts themselves are
/// exercised end to end in DeployctlTests ("Promote and history end to end").
@Suite struct PromotionAndHistoryTests {
  static let digestB = "sha256:" + String(repeating: "fedcba9876543210", count: 4)
  static let t0 = Date(timeIntervalSince1970: 1_795_281_330)

  func record(
    _ id: String, digest: String = digestA, tag: String = "v1", at: Date = t0, how: ReleaseOrigin = .deploy,
    result: ReleaseResult = .deployed
  ) throws -> ReleaseRecord {
    var spec = try fullSpec()
    spec.release = id
    spec.image = try ImageReference.parse("registry.example.com/acme/web:\(tag)@\(digest)")
    return try ReleaseRecord(container: spec, createdAt: at, user: "alice", how: how, result: result)
  }

  func entry(
    _ name: String, _ current: ReleaseRecord?, health: String = "healthy", state: String = "running",
    reachable: Bool = true, audit: [AuditEntry] = []
  ) -> EnvironmentStatus.Entry {
    EnvironmentStatus.Entry(
      status: HostStatus(
        name: name, reachable: reachable, release: current?.id, image: current?.image, state: state,
        health: health, error: reachable ? nil : "connection refused"),
      current: current, healthProblem: health == "unhealthy" ? "GET /healthz: 500" : nil, audit: audit)
  }

  func problems(_ entries: [EnvironmentStatus.Entry], age: Duration? = nil, now: Date = t0) -> [String] {
    do {
      _ = try PromotionGate.judge(entries, environment: "staging", requiredAge: age, now: now)
      return []
    } catch {
      if case .promotionRefused(_, let problems, _) = error { return problems }
      return ["\(error)"]
    }
  }

  @Test func oneHealthyDigestEverywhereIsPromoted() throws {
    let a = try record("r1")
    let source = try PromotionGate.judge(
      [entry("web1", a), entry("web2", a)], environment: "staging", requiredAge: nil, now: Self.t0)
    #expect(source.image == a.image)
    #expect(source.release == "r1")
    #expect(source.tag == "v1")
  }

  @Test func everyHostWithAProblemIsNamed() throws {
    let a = try record("r1")
    let failed = try record("r2", result: .failed)
    let found = problems([
      entry("web1", a, health: "unhealthy"), entry("web2", nil, reachable: false),
      entry("web3", nil, state: "absent"),
      entry("web4", failed), entry("web5", a, state: "exited"),
    ])
    #expect(found.count == 5, "\(found)")
    #expect(found[0] == "web1: unhealthy: GET /healthz: 500")
    #expect(found[1].hasPrefix("web2: unreachable"))
    #expect(found[2].hasPrefix("web3: no container"))
    #expect(found[3] == "web4: release r2 is recorded as failed in staging")
    #expect(found[4] == "web5: container is exited, not running")
  }

  @Test func twoDigestsAreRefusedWithEachHostsDigest() throws {
    let found = problems([
      entry("web1", try record("r1")), entry("web2", try record("r2", digest: Self.digestB, tag: "v2")),
    ])
    #expect(
      found == [
        "staging is not on one image digest: web1 runs sha256:0123456789ab (v1), web2 runs sha256:fedcba987654 (v2)"
      ])
  }

  @Test func ageCountsFromTheNewestSuccessfulInstallOnAnyHost() throws {
    let a = try record("r1", at: Self.t0)
    let rolledBackTo = AuditEntry(
      time: Self.t0.addingTimeInterval(3000), user: "bob", origin: "ci", command: .rollback,
      environment: "staging",
      release: "r1", image: a.container.image, result: .succeeded)
    let failedLater = AuditEntry(
      time: Self.t0.addingTimeInterval(3500), user: "bob", origin: "ci", command: .deploy,
      environment: "staging",
      release: "r9", image: a.container.image, result: .rolledBack)
    let entries = [entry("web1", a), entry("web2", a, audit: [rolledBackTo, failedLater])]
    let now = Self.t0.addingTimeInterval(3600)
    // Live on web2 only since the rollback 600 s ago; the failed deploy after it does not count.
    #expect(problems(entries, age: .seconds(600), now: now).isEmpty)
    let young = problems(entries, age: .seconds(900), now: now)
    #expect(
      young == ["sha256:0123456789ab has been live in staging for 10m; promotion needs 15m (try again in 5m)"]
    )
  }

  @Test func historyMergesHostsIntoRunsNewestFirst() throws {
    let v1 = try record("r1", at: Self.t0)
    let v2 = try record("r2", digest: Self.digestB, tag: "v2", at: Self.t0.addingTimeInterval(60))
    func line(
      _ host: Int, _ command: AuditCommand, _ release: ReleaseRecord, _ result: AuditResult, _ run: String,
      _ at: Double
    )
      -> AuditEntry
    {
      AuditEntry(
        time: Self.t0.addingTimeInterval(at + Double(host)), user: "alice", origin: "laptop",
        command: command,
        environment: "staging", release: release.id, image: release.container.image, result: result, run: run,
        previous: nil)
    }
    let web1 = EnvironmentHistory.Kept(
      releases: HostReleases(current: "r1", records: [v2, v1], unreadable: []),
      audit: [
        line(1, .deploy, v1, .succeeded, "a", 0), line(1, .deploy, v2, .succeeded, "b", 60),
        line(1, .rollback, v1, .succeeded, "c", 120),
      ])
    let web2 = EnvironmentHistory.Kept(
      releases: HostReleases(current: "r1", records: [v2, v1], unreadable: []),
      audit: [
        line(2, .deploy, v1, .succeeded, "a", 0), line(2, .deploy, v2, .rolledBack, "b", 60),
        line(2, .rollback, v1, .succeeded, "c", 120),
      ])
    let entries = EnvironmentHistory.merge([("web1", web1), ("web2", web2)], environment: "staging")
    #expect(entries.map(\.how) == ["rollback", "deploy", "deploy"])
    #expect(entries.map(\.release) == ["r1", "r2", "r1"])
    #expect(entries.map(\.result) == ["succeeded", "partial", "succeeded"])
    #expect(entries.map(\.live) == [true, false, false])
    #expect(entries[1].tag == "v2")
    #expect(entries[1].hosts.map(\.name) == ["web1", "web2"])
  }
  @Test func historyShowsALockTakeoverAsARowOfItsOwn() throws {
    let v1 = try record("r1", at: Self.t0)
    func takeover(_ at: Double, run: String?, holder: String, stale: Int) -> AuditEntry {
      var entry = AuditEntry(
        time: Self.t0.addingTimeInterval(at), user: "bob", origin: "ci", command: .lockTakeover,
        environment: "staging", release: nil, image: nil, result: .succeeded, run: run)
      entry.holder = holder
      entry.stale = stale
      return entry
    }
    let deploy = AuditEntry(
      time: Self.t0, user: "alice", origin: "laptop", command: .deploy, environment: "staging",
      release: "r1", image: v1.container.image, result: .succeeded, run: "a")
    let kept = [
      (
        "web1",
        EnvironmentHistory.Kept(
          releases: HostReleases(current: "r1", records: [v1], unreadable: []),
          audit: [deploy, takeover(100, run: "b", holder: "alice@laptop (pid 7)", stale: 61)])
      ),
      (
        "web2",
        EnvironmentHistory.Kept(
          releases: HostReleases(current: "r1", records: [v1], unreadable: []),
          audit: [
            deploy, takeover(101, run: "b", holder: "alice@laptop (pid 7)", stale: 62),
            // Older lines without a run id: one row per previous holder.
            takeover(50, run: nil, holder: "carol@box (pid 9)", stale: 70),
          ])
      ),
    ]
    let entries = EnvironmentHistory.merge(kept, environment: "staging")
    #expect(entries.map(\.how) == ["lock-takeover", "lock-takeover", "deploy"])
    #expect(entries[0].hosts.map(\.name) == ["web1", "web2"])
    #expect(entries[0].holder == "alice@laptop (pid 7)")
    #expect(entries[0].staleS == 62)
    #expect(entries[0].release == nil && !entries[0].live)
    #expect(entries[0].user == "bob")
    #expect(entries[1].holder == "carol@box (pid 9)")
    #expect(entries[2].live)
    let report = HistoryReport(environment: "staging", app: "web", releases: entries, hosts: [])
    #expect(try ReportDecoding.decode(HistoryReport.self, from: report.jsonString()) == report)
    let text = HistoryTable.text(report, terminal: Terminal(colors: false, write: { _ in }))
    #expect(text.contains("took over 2/2 from alice@laptop (pid 7); it had stopped renewing 62s before"))
  }
}
