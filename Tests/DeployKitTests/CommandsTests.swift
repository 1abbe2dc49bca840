import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit
@testable import DeployTransport

/// The command layer of the library: how a command ends (exit code, JSON, text, GitHub
/// annotations), the decisions the CLI used to make, and shell completion's candidates.
@Suite struct CommandsTests {
  /// A console whose stderr and stdout are captured.
  func console(_ format: OutputFormat, github: Bool = false) -> (CommandConsole, LockedLines, LockedLines) {
    let err = LockedLines()
    let out = LockedLines()
    let console = CommandConsole(
      format: format, terminal: Terminal(colors: false, githubActions: github, write: { err.append($0) }),
      standardOutput: Terminal(colors: false, write: { out.append($0) }))
    return (console, err, out)
  }

  @Test func aConfigErrorEndsAsFileLineColumnLinesAnnotationsAndARefusedDocument() throws {
    let (console, err, out) = console(.json, github: true)
    let problem = ConfigErrors([
      .error(
        at: SourceLocation(file: "inventories/prod.yml", line: 5, column: 9), "`ssh.port` must be a port")
    ])
    let end = console.fail(problem, command: "deploy", environment: "prod", app: nil)
    #expect(end == CommandExit(.refused))
    #expect(err.all.contains("inventories/prod.yml:5:9: error: `ssh.port` must be a port\n"))
    #expect(err.all.contains { $0.hasPrefix("::error file=inventories/prod.yml,line=5,col=9::") })
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(out.all.joined().utf8)) as? [String: Any])
    #expect(document["result"] as? String == "refused")
    #expect(document["exit_code"] as? Int == 2)
    #expect(document["command"] as? String == "deploy")
  }

  @Test func otherErrorsKeepTheirExitCode() {
    let (console, err, out) = console(.text)
    let end = console.fail(
      RolloutError.locked(environment: "prod", app: "web", holders: ["ci"]), command: "lock",
      environment: "prod",
      app: "web")
    #expect(end.status == 4)
    #expect(out.all.isEmpty)
    #expect(err.all.joined().hasPrefix("error: prod is locked for web by ci"))
  }

  @Test func statusSucceedsOnlyWhenEveryHostIsReachableOnAReleaseAndHealthy() {
    let healthy = HostStatus(
      name: "a", reachable: true, release: "r1", image: "i", state: "running", health: "healthy")
    var unhealthy = healthy
    unhealthy.health = "unhealthy"
    #expect(StatusReport(environment: "prod", app: "web", judging: [healthy, healthy]).exitCode == 0)
    #expect(StatusReport(environment: "prod", app: "web", judging: [healthy, unhealthy]).exitCode == 1)
    var none = healthy
    none.release = nil
    #expect(StatusReport(environment: "prod", app: "web", judging: [none]).exitCode == 1)
    var unreachable = healthy
    unreachable.reachable = false
    #expect(StatusReport(environment: "prod", app: "web", judging: [unreachable]).result == .failed)
  }

  @Test func finishPrintsTheDocumentOnStdoutAndMasksSecrets() throws {
    let (console, err, out) = console(.json)
    let report = CommandReport(
      command: "deploy", environment: "prod", app: "web", result: .failed, error: "token=s3cr3t-token refused"
    )
    let end = console.finish(report, secrets: ["s3cr3t-token"])
    #expect(end.status == 1)
    #expect(!out.all.joined().contains("s3cr3t") && !err.all.joined().contains("s3cr3t"))
    #expect(out.all.joined().contains("token=*** refused"))
    #expect(err.all.contains { $0.hasPrefix("deploy prod: failed") })
  }

  @Test func lockReleaseNeedsForce() {
    #expect(throws: RolloutError.self) { try LockAction.release.check(force: false) }
    #expect(throws: Never.self) { try LockAction.release.check(force: true) }
    #expect(throws: Never.self) { try LockAction.status.check(force: false) }
  }

  @Test func limitTakesCommaSeparatedAndRepeatedNames() {
    let selection = ProjectSelection(limit: ["a, b", "c", ""])
    #expect(selection.limitedHosts == ["a", "b", "c"])
    #expect(throws: RolloutError.self) { try ProjectSelection(parallel: 0).check() }
  }

  @Test func completionOffersEnvironmentsAndTheNamedEnvironmentsHosts() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "completion-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try "environment: prod\nhosts:\n  web1: {address: a}\n  web2: {address: b}\n  db1: {address: c}\n"
      .write(to: folder.appendingPathComponent("prod.yml"), atomically: true, encoding: .utf8)
    try "environment: dev\nhosts:\n  dev1: {address: a}\n"
      .write(to: folder.appendingPathComponent("dev.yml"), atomically: true, encoding: .utf8)
    try "not: [valid".write(
      to: folder.appendingPathComponent("broken.yml"), atomically: true, encoding: .utf8)
    let words = ["deployctl", "deploy", "--inventories", folder.path, "prod", "--limit"]
    #expect(CompletionCandidates.environments(words: words) == ["broken", "dev", "prod"])
    #expect(CompletionCandidates.environments(words: words, prefix: "p") == ["prod"])
    #expect(CompletionCandidates.hosts(words: words, prefix: "") == ["web1", "web2", "db1"])
    #expect(CompletionCandidates.hosts(words: words, prefix: "web1,") == ["web1,web2", "web1,db1"])
    #expect(CompletionCandidates.hosts(words: words, prefix: "web1,d") == ["web1,db1"])
    let noEnvironment = ["deployctl", "exec", "--inventories=\(folder.path)", "--limit"]
    #expect(Set(CompletionCandidates.hosts(words: noEnvironment)) == ["web1", "web2", "db1", "dev1"])
  }

  @Test func configWritesDurationsTheWayPlansDo() {
    #expect(ResolvedConfig.format(.seconds(10)) == "10s")
    #expect(ResolvedConfig.format(.seconds(90)) == "1m30s")
    #expect(ResolvedConfig.format(.milliseconds(1500)) == "1s500ms")
    #expect(ResolvedConfig.format(.zero) == "0")
  }

  @Test func execWithShellSendsTheLineAsItIs() {
    #expect(
      AdHocCommand(arguments: ["docker ps | grep web"], shell: true).commandLine == "docker ps | grep web")
    #expect(AdHocCommand(arguments: ["docker ps | grep web"]).commandLine == "'docker ps | grep web'")
  }
}
