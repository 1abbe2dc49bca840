import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine

/// The four DORA keys from runs, with the edge cases `stats` must say rather than crash on.
@Suite struct DeliveryStatsTests {
  let t0 = Date(timeIntervalSince1970: 1_800_000_000)
  func at(days: Double, _ seconds: Double = 0) -> Date { t0.addingTimeInterval(days * 86_400 + seconds) }

  func run(
    _ release: String, _ how: AuditCommand, day: Double, _ result: String = "succeeded",
    digest: String? = nil,
    previous: String? = nil
  ) -> DeliveryStats.Run {
    DeliveryStats.Run(
      release: release, how: how, start: at(days: day), end: at(days: day, 60), digest: digest,
      previous: previous,
      result: result)
  }

  @Test func theFourKeys() {
    let runs = [
      run("r1", .deploy, day: 1, digest: "sha256:a"),
      run("r2", .deploy, day: 2, digest: "sha256:b", previous: "r1"),
      run("r1", .rollback, day: 2 + 1.0 / 24, previous: "r2"),
      run("r3", .deploy, day: 9, "rolled_back", digest: "sha256:c", previous: "r1"),
      run("r4", .promote, day: 10, digest: "sha256:gone", previous: "r1"),
    ]
    let created = [
      "sha256:a": at(days: 1, -3600), "sha256:b": at(days: 2, -600), "sha256:c": at(days: 9, -60),
    ]
    let report = DeliveryStats.compute(runs: runs, imageCreated: created, from: t0, to: at(days: 14))
    #expect(report.deploymentFrequency.deploys == 3)
    #expect(report.deploymentFrequency.attempts == 4)
    #expect(report.deploymentFrequency.weekly == [2, 1])
    #expect(abs(report.deploymentFrequency.perDay - 3.0 / 14) < 1e-9)
    #expect(report.leadTime.samples == 2 && report.leadTime.unknown == 1)
    #expect(abs((report.leadTime.medianS ?? 0) - (3660 + 660) / 2) < 1e-6, "\(report.leadTime)")
    #expect(report.leadTime.p90S == 3660)
    #expect(report.changeFailureRate == .init(rate: 0.5, failed: 2, changes: 4))
    #expect(report.timeToRestore == .init(medianS: 3600, maxS: 3600, incidents: 1, restored: 1, open: []))
    #expect(report.notes.isEmpty, "\(report.notes)")
    #expect(
      report.text.contains("deployment frequency  3 deploys, 0.21/day, 1.50/week  █▅"), "\(report.text)")
    #expect(report.text.contains("change failure rate   50% (2 of 4 deploys)"), "\(report.text)")
    #expect(report.text.contains("time to restore       median 1h 0m (1 incident)"), "\(report.text)")
  }

  @Test func noDeploys() {
    let report = DeliveryStats.compute(runs: [], imageCreated: [:], from: t0, to: at(days: 90))
    #expect(report.deploymentFrequency.deploys == 0 && report.deploymentFrequency.weekly.count == 13)
    #expect(report.changeFailureRate.rate == nil && report.leadTime.medianS == nil)
    #expect(report.notes == ["no deploy or promote in the window"])
    #expect(report.text.contains("change failure rate   none (no deploys)"), "\(report.text)")
    #expect(report.text.contains("▁▁▁▁▁▁▁▁▁▁▁▁▁"))
  }

  @Test func onlyFailures() {
    let runs = [run("r1", .deploy, day: 1, "rolled_back"), run("r2", .deploy, day: 2, "failed")]
    let report = DeliveryStats.compute(runs: runs, imageCreated: [:], from: t0, to: at(days: 7))
    #expect(report.deploymentFrequency.deploys == 0)
    #expect(report.changeFailureRate == .init(rate: 1, failed: 2, changes: 2))
    #expect(report.timeToRestore.incidents == 0)
    #expect(report.notes == ["every change in the window failed"])
  }

  @Test func aRollbackWithNoLaterDeployRestores() {
    // r2 went live, was rolled back to r1, and nothing went out after: the rollback restored it.
    let runs = [
      run("r1", .deploy, day: 1), run("r2", .deploy, day: 2, previous: "r1"),
      run("r1", .rollback, day: 3, previous: "r2"),
    ]
    let report = DeliveryStats.compute(runs: runs, imageCreated: [:], from: t0, to: at(days: 7))
    #expect(report.changeFailureRate == .init(rate: 0.5, failed: 1, changes: 2))
    #expect(report.timeToRestore.medianS == 86_400 && report.timeToRestore.open.isEmpty)
    #expect(report.leadTime.unknown == 2 && report.leadTime.medianS == nil)
  }

  @Test func aFailureNothingRestoredIsOpen() {
    let runs = [run("r1", .deploy, day: 1), run("r2", .deploy, day: 2, "needs_attention")]
    let report = DeliveryStats.compute(runs: runs, imageCreated: [:], from: t0, to: at(days: 7))
    #expect(report.timeToRestore == .init(incidents: 1, restored: 0, open: ["r2"]))
    #expect(report.notes.contains { $0.contains("not restored yet") })
    #expect(report.text.contains("not restored yet (r2)"))
  }

  @Test func clocksThatDisagreeCountAsZero() {
    // The image says it was made an hour after the release went live: the builder's clock is ahead.
    let runs = [run("r1", .deploy, day: 1, digest: "sha256:a")]
    let report = DeliveryStats.compute(
      runs: runs, imageCreated: ["sha256:a": at(days: 1, 3600)], from: t0, to: at(days: 7))
    #expect(report.leadTime.medianS == 0 && report.leadTime.samples == 1)
    #expect(report.notes.contains { $0.contains("clocks") }, "\(report.notes)")
  }

  @Test func imageCreationTimesAreRead() {
    let output = """
      reg/app@sha256:aaa, 2026-12-01T10:00:00Z 2026-12-01T11:00:00.123456789Z
      reg/app@sha256:bbb,  2026-12-02T09:30:15.5Z
      """
    let created = DeliveryStats.parseCreated(output)
    #expect(created["sha256:aaa"] == DeliveryStats.parseTime("2026-12-01T10:00:00Z"))
    #expect(created["sha256:bbb"] == DeliveryStats.parseTime("2026-12-02T09:30:15.500Z"))
    #expect(created["sha256:bbb"] != nil)
  }
}
