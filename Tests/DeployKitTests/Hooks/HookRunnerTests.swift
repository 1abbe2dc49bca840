import Foundation
import TestSupport
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

#if canImport(Glibc)
  import Glibc
#endif

/// Hooks as real programs: small shell scripts written by each test into a folder of its own.
@Suite struct HookRunnerTests {
  let environment = HookEnvironment(
    command: "deploy", environment: "prod", app: "web", release: "20261130-0150-ab12",
    image: "registry.example.com/acme/web@sha256:" + String(repeating: "a", count: 64),
    previousRelease: "20261129-1200-cd34", hosts: ["web1", "web2"], user: "alice", result: "failed",
    exitCode: 1, error: "web2: health check failed with token s3cr3t-value", reportPath: "/tmp/report.json")

  func script(_ folder: TemporaryDirectory, _ name: String, _ body: String) throws -> String {
    let path = folder.url.appendingPathComponent(name).path
    try writeExecutable(path, "#!/bin/sh\n\(body)\n")
    return path
  }

  func run(
    _ stage: HooksSpec.Stage, _ argv: [String], timeout: Duration = .seconds(60), secrets: [String] = [],
    killAfter: Duration = .seconds(5)
  ) async -> (HookResult?, [String]) {
    var hooks = HooksSpec(timeout: timeout)
    switch stage {
    case .preDeploy: hooks.preDeploy = argv
    case .postDeploy: hooks.postDeploy = argv
    case .onFailure: hooks.onFailure = argv
    }
    let lines = Locked<[String]>([])
    let runner = HookRunner(
      hooks: hooks, masker: SecretMasker(secrets: secrets),
      baseEnvironment: ["PATH": "/usr/bin:/bin", "SECRET_TOKEN": "s3cr3t-value"], killAfter: killAfter)
    let result = await runner.run(stage, environment: environment) { line in
      lines.withLock { $0.append(line) }
    }
    return (result, lines.current)
  }

  @Test func theVariablesArriveAndTheOutputIsPrefixed() async throws {
    let folder = try TemporaryDirectory()
    defer { folder.remove() }
    let hook = try script(
      folder, "announce", "env | grep '^DEPLOYCTL_' | sort\necho \"cwd=$(pwd)\"\necho \"args=$*\" >&2")
    let (result, lines) = await run(.onFailure, [hook, "one", "two words"])
    #expect(result?.result == .ok)
    #expect(result?.exitStatus == 0)
    #expect(result?.error == nil)
    #expect(
      Set(lines)
        == [
          "hook on_failure: DEPLOYCTL_APP=web",
          "hook on_failure: DEPLOYCTL_COMMAND=deploy",
          "hook on_failure: DEPLOYCTL_ENVIRONMENT=prod",
          "hook on_failure: DEPLOYCTL_ERROR=web2: health check failed with token s3cr3t-value",
          "hook on_failure: DEPLOYCTL_EXIT_CODE=1",
          "hook on_failure: DEPLOYCTL_HOSTS=web1,web2",
          "hook on_failure: DEPLOYCTL_IMAGE=registry.example.com/acme/web@sha256:"
            + String(repeating: "a", count: 64),
          "hook on_failure: DEPLOYCTL_PREVIOUS_RELEASE=20261129-1200-cd34",
          "hook on_failure: DEPLOYCTL_RELEASE=20261130-0150-ab12",
          "hook on_failure: DEPLOYCTL_REPORT=/tmp/report.json",
          "hook on_failure: DEPLOYCTL_RESULT=failed",
          "hook on_failure: DEPLOYCTL_USER=alice",
          "hook on_failure: cwd=\(FileManager.default.currentDirectoryPath)",
          "hook on_failure: args=one two words",
        ])
  }

  @Test func preDeployGetsNoOutcomeVariables() async throws {
    let folder = try TemporaryDirectory()
    defer { folder.remove() }
    let hook = try script(folder, "check", "echo \"result=${DEPLOYCTL_RESULT-unset} app=$DEPLOYCTL_APP\"")
    let (result, lines) = await run(.preDeploy, [hook])
    #expect(result?.result == .ok)
    #expect(lines == ["hook pre_deploy: result=unset app=web"])
  }

  @Test func aNonZeroExitFails() async throws {
    let folder = try TemporaryDirectory()
    defer { folder.remove() }
    let hook = try script(folder, "check-migrations", "echo 'pending migration 42'\nexit 3")
    let (result, lines) = await run(.preDeploy, [hook])
    #expect(result?.result == .failed)
    #expect(result?.exitStatus == 3)
    #expect(result?.error == "\(hook) exited with status 3")
    #expect(lines == ["hook pre_deploy: pending migration 42"])
  }

  @Test func aHookPastItsTimeoutIsKilledWithWhatItStarted() async throws {
    let folder = try TemporaryDirectory()
    defer { folder.remove() }
    let pidFile = folder.url.appendingPathComponent("child.pid").path
    // Ignores SIGTERM, so only the SIGKILL after `killAfter` ends it; its background child is
    // in its process group and goes too.
    let hook = try script(
      folder, "hang",
      "trap '' TERM\nsleep 60 &\necho $! > '\(pidFile)'\necho started\nwhile :; do sleep 1; done")
    let (result, lines) = await run(
      .postDeploy, [hook], timeout: .milliseconds(300), killAfter: .milliseconds(300))
    #expect(result?.result == .failed)
    #expect(result?.exitStatus == nil)
    #expect(result?.error == "\(hook) did not finish within 300ms (hooks.timeout); it was stopped")
    #expect(lines == ["hook post_deploy: started"])
    let child = try #require(
      pid_t(
        try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(await eventually { kill(child, 0) != 0 })
  }

  @Test func cancellingTheRunStopsTheHook() async throws {
    let folder = try TemporaryDirectory()
    defer { folder.remove() }
    let pidFile = folder.url.appendingPathComponent("hook.pid").path
    let hook = try script(folder, "slow", "echo $$ > '\(pidFile)'\nexec sleep 60")
    let task = Task { await run(.preDeploy, [hook]) }
    #expect(
      await eventually { (try? String(contentsOfFile: pidFile, encoding: .utf8))?.hasSuffix("\n") == true })
    task.cancel()
    let (result, _) = await task.value
    #expect(result?.result == .failed)
    #expect(result?.error == "\(hook) was stopped: the run was interrupted")
    let pid = try #require(
      pid_t(
        try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(await eventually { kill(pid, 0) != 0 })
  }

  @Test func secretValuesAreMaskedInOutputAndErrors() async throws {
    let folder = try TemporaryDirectory()
    defer { folder.remove() }
    let hook = try script(
      folder, "leak", "echo \"token=$SECRET_TOKEN\"\necho \"error=$DEPLOYCTL_ERROR\"\nexit 1")
    let (result, lines) = await run(.onFailure, [hook, "s3cr3t-value"], secrets: ["s3cr3t-value"])
    #expect(
      lines == [
        "hook on_failure: token=***", "hook on_failure: error=web2: health check failed with token ***",
      ])
    #expect(result?.result == .failed)
    #expect(result?.error?.contains("s3cr3t") == false)
  }

  @Test func aMissingProgramOrNoHook() async throws {
    let (result, lines) = await run(.preDeploy, ["./hooks/does-not-exist"])
    #expect(result?.result == .failed)
    #expect(result?.error == "cannot start ./hooks/does-not-exist: No such file or directory")
    #expect(lines == [])
    let none = await HookRunner(hooks: HooksSpec()).run(.postDeploy, environment: environment)
    #expect(none == nil)
  }

  @Test func resultsAsJSON() throws {
    let result = HookResult(
      name: .postDeploy, result: .failed, exitStatus: 2, durationMs: 12, error: "x exited with status 2")
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(result.jsonString().utf8)) as? [String: Any])
    #expect(json["name"] as? String == "post_deploy")
    #expect(json["result"] as? String == "failed")
    #expect(json["duration_ms"] as? Int == 12)
    #expect(json["error"] as? String == "x exited with status 2")
  }
}
