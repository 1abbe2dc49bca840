import Foundation
import Testing

@testable import DeployEngine
@testable import DeployKit

@Suite struct OutputTests {
  func sampleReport() -> CommandReport {
    CommandReport(
      command: "deploy", environment: "prod", app: "web", result: .failed,
      release: ReleaseRef(id: "r2", image: "reg/app@sha256:" + String(repeating: "a", count: 64)),
      previousRelease: ReleaseRef(id: "r1", image: "reg/app@sha256:" + String(repeating: "b", count: 64)),
      hosts: [
        HostReport(
          name: "prod-1", result: .rolledBack, release: "r1", durationMs: 1530, error: "unhealthy | 500"),
        HostReport(name: "prod-2", result: .skipped, release: "r1", durationMs: 0),
      ])
  }

  @Test func commandReportHasEverySpecFieldEvenWhenNull() throws {
    var report = sampleReport()
    report.previousRelease = nil
    let object = try #require(
      JSONSerialization.jsonObject(with: Data(report.jsonString().utf8)) as? [String: Any])
    for key in ["command", "environment", "app", "result", "release", "previous_release", "hosts"] {
      #expect(object.keys.contains(key), "missing \(key)")
    }
    #expect(object["previous_release"] is NSNull)
    #expect(object["result"] as? String == "failed")
    #expect(object["exit_code"] as? Int == 1)
    let release = try #require(object["release"] as? [String: Any])
    #expect((release["image"] as? String)?.contains("@sha256:") == true)
    let hosts = try #require(object["hosts"] as? [[String: Any]])
    #expect(hosts.count == 2)
    #expect(hosts[0]["duration_ms"] as? Int == 1530)
    #expect(hosts[0]["result"] as? String == "rolled_back")
    #expect(hosts[1]["error"] is NSNull)
  }

  @Test func annotationsCannotBeSplitByNewlines() {
    let line = GitHubActions.annotation(.error, "prod-1: failed\n::warning::injected 100%")
    #expect(line == "::error::prod-1: failed%0A::warning::injected 100%25")
    #expect(!line.contains("\n"))
  }

  @Test func markdownSummaryListsEveryHostAndEscapesPipes() {
    let md = SummaryTable.markdown(sampleReport())
    #expect(md.contains("| prod-1 | rolled_back | r1 | 1.53s | unhealthy \\| 500 |"))
    #expect(md.contains("| prod-2 | skipped | r1 |"))
    #expect(md.contains("deployctl deploy prod (web): failed"))
  }

  @Test func stepSummaryIsAppended() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("summary-\(UUID()).md").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try "existing\n".write(toFile: path, atomically: true, encoding: .utf8)
    try GitHubActions.appendSummary("added\n", to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "existing\nadded\n")
  }

  @Test func textTableHasNoColoursWithoutTerminal() {
    let terminal = Terminal(colors: false, write: { _ in })
    let table = SummaryTable.text(sampleReport(), terminal: terminal)
    #expect(!table.contains("\u{1B}["))
    let lines = table.split(separator: "\n")
    #expect(lines.count == 3)
    #expect(lines[1].hasPrefix("prod-1  rolled_back  r1"))
  }

  @Test func secretsAreMaskedLongestFirst() {
    let masker = SecretMasker(secrets: ["hunter2", "hunter2-extended", "ab"])
    #expect(masker.mask("url=hunter2-extended pw=hunter2 ab") == "url=*** pw=*** ab")
  }

  @Test func progressLinesCarryTimestampHostAndMaskedText() async {
    let lines = LockedLines()
    let terminal = Terminal(colors: false, write: { lines.append($0) })
    let progress = ProgressLog(terminal: terminal, masker: SecretMasker(secrets: ["s3cr3t-value"]))
    await progress.host("prod-1", "health", .failed(.milliseconds(2500), "body was s3cr3t-value"))
    let line = lines.all.joined()
    #expect(line.contains(" prod-1 health failed 2.50s: body was ***"))
    #expect(line.first?.isNumber == true)
  }
}

final class LockedLines: @unchecked Sendable {
  private let lock = NSLock()
  private var lines: [String] = []
  func append(_ line: String) { lock.withLock { lines.append(line) } }
  var all: [String] { lock.withLock { lines } }
}
