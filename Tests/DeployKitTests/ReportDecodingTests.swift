import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

/// The JSON documents deployctl prints read back into the report types (what the end-to-end
/// tests and CI scripts do), times included.
@Suite struct ReportDecodingTests {
  let liveSince = Date(timeIntervalSince1970: 1_790_000_000.25)

  @Test func promoteReportReadsBackEqual() throws {
    let host = HostStatus(
      name: "staging-1", reachable: true, release: "r7",
      image: "reg/app@sha256:" + String(repeating: "c", count: 64),
      state: "running", health: "healthy")
    var report = CommandReport(
      command: "promote", environment: "prod", app: "web", result: .success,
      release: ReleaseRef(id: "r8", image: "reg/app@sha256:" + String(repeating: "c", count: 64)),
      promotedFrom: "staging",
      hosts: [
        HostReport(
          name: "prod-1", result: .deployed, release: "r8", durationMs: 812,
          steps: [StepTiming(step: "pull", durationMs: 300)])
      ], durationMs: 900)
    report.source = PromotionSource(
      environment: "staging", image: host.image, release: "r7", tag: "v1", liveSince: liveSince, hosts: [host]
    )
    let decoded = try ReportDecoding.decode(CommandReport.self, from: report.jsonString())
    #expect(decoded == report)
    #expect(decoded.source?.liveSince == liveSince)
  }

  @Test func historyReportReadsBackEqual() throws {
    let entry = HistoryEntry(
      release: "r2", image: nil, digest: "sha256:" + String(repeating: "d", count: 64), tag: "v2",
      user: "alice",
      time: liveSince, how: "deploy", from: nil, previous: "r1", result: "succeeded",
      hosts: [HistoryEntry.Host(name: "dev-1", result: "deployed")], live: true)
    let report = HistoryReport(
      environment: "dev", app: "web", releases: [entry],
      hosts: [HistoryHost(name: "dev-1", reachable: true, release: "r2", error: nil)])
    #expect(try ReportDecoding.decode(HistoryReport.self, from: report.jsonString()) == report)
  }

  @Test func somethingElseIsAnError() {
    #expect(throws: DecodingError.self) {
      try ReportDecoding.decode(CommandReport.self, from: #"{"command": 1}"#)
    }
  }
}
