import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

func fixture(_ name: String) throws -> String {
  guard let url = Bundle.module.url(forResource: "Fixtures/Docker/" + name, withExtension: nil) else {
    throw FixtureError("fixture \(name) missing")
  }
  return try String(contentsOf: url, encoding: .utf8)
}

@Suite struct DockerOutputTests {
  @Test func inspectOfARunningHealthyContainer() throws {
    let containers = try ContainerInfo.parse(fixture("inspect-running-healthy.json"))
    #expect(containers.count == 1)
    let web = try #require(containers.first)
    #expect(web.id.hasPrefix("4fa6e0f0c678"))
    #expect(web.name == "web")
    #expect(web.status == "running")
    #expect(web.running)
    #expect(!web.restarting)
    #expect(web.exitCode == 0)
    #expect(web.restartCount == 0)
    #expect(web.health?.status == .healthy)
    #expect(web.imageID == "sha256:a8758716bb6aa4d90071160d27028fe4eaee7ce8166221a97d30440c8eac2be6")
    #expect(web.image.hasPrefix("registry.example.com/acme/web@sha256:0a1b2c"))
    #expect(web.app == "web")
    #expect(web.environment == "staging")
    #expect(web.release == "20261121-171530-3fa9")
    #expect(web.labels["maintainer"] == "NGINX Docker Maintainers <docker-maint@nginx.com>")
    let started = try #require(web.startedAt)
    #expect(abs(started.timeIntervalSince1970 - 1_795_281_332.401) < 0.01)
    #expect(web.finishedAt == nil, "Docker's zero time means never")
    #expect(web.liveness() == .alive)
    #expect(web.dockerHealthVerdict == .healthy("docker health status: healthy"))
  }

  @Test func inspectOfAnExitedContainer() throws {
    let exited = try #require(try ContainerInfo.parse(fixture("inspect-exited.json")).first)
    #expect(!exited.running)
    #expect(exited.status == "exited")
    #expect(exited.exitCode == 137)
    #expect(exited.oomKilled)
    #expect(exited.restartCount == 3)
    #expect(exited.health == nil)
    #expect(exited.dockerHealthVerdict == nil)
    #expect(exited.release == "20261121-172000-0001")
    // Started 17:20:09.5 at +01:00, finished 16:20:10 UTC: half a second.
    let ran = try #require(exited.finishedAt).timeIntervalSince(try #require(exited.startedAt))
    #expect(abs(ran - 0.5) < 0.01)
    guard case .dead(let why) = exited.liveness() else {
      Issue.record("an exited container is dead")
      return
    }
    #expect(why.contains("exited") && why.contains("137") && why.contains("memory"))
  }

  @Test func livenessNoticesRestartsAndReplacement() throws {
    let initial = try #require(try ContainerInfo.parse(fixture("inspect-running-healthy.json")).first)
    var later = initial
    #expect(later.liveness(since: initial) == .alive)
    later.restartCount = 1
    later.exitCode = 1
    guard case .dead(let why) = later.liveness(since: initial), why.contains("restarted 1 time") else {
      Issue.record("a restart since the deploy is death: \(later.liveness(since: initial))")
      return
    }
    later = initial
    later.restarting = true
    #expect(later.liveness(since: initial) != .alive)
    later = initial
    later.id = "ffff"
    #expect(later.liveness(since: initial) != .alive)
  }

  @Test func dockerHealthStartingIsNotYetHealthy() throws {
    var info = try #require(try ContainerInfo.parse(fixture("inspect-running-healthy.json")).first)
    info.health = ContainerHealth(
      status: .starting, failingStreak: 1, lastOutput: "exit 1: connection refused")
    #expect(
      info.dockerHealthVerdict
        == .unhealthy("docker health status: starting (last check: exit 1: connection refused)"))
  }

  @Test func missingContainerIsNotAnError() throws {
    #expect(
      try ContainerInfo.parseInspect(stdout: "", stderr: "Error: No such container: web\n", exitStatus: 1)
        == nil)
    #expect(
      try ContainerInfo.parseInspect(
        stdout: "", stderr: "Error response from daemon: No such container: web", exitStatus: 1) == nil)
    #expect(throws: DockerError.self) {
      try ContainerInfo.parseInspect(
        stdout: "",
        stderr:
          "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
        exitStatus: 1)
    }
    let one = try fixture("inspect-exited.json")
    #expect(try ContainerInfo.parseInspect(stdout: one, stderr: "", exitStatus: 0)?.name == "web")
    #expect(throws: DockerError.self) { try ContainerInfo.parse("{not json") }
  }

  @Test func psLines() throws {
    let list = try ContainerSummary.parse(fixture("ps.jsonl"))
    #expect(list.map(\.names) == ["web", "web-previous"])
    #expect(list.map(\.state) == ["running", "exited"])
    #expect(list.map(\.release) == ["20261121-171530-3fa9", "20261121-170959-77aa"])
    #expect(list[0].environment == "staging")
    #expect(list[0].labels["maintainer"] == "NGINX Docker Maintainers <docker-maint@nginx.com>")
    #expect(list[0].status == "Up 5 minutes (healthy)")
    #expect(try ContainerSummary.parse("") == [])
    #expect(throws: DockerError.self) { try ContainerSummary.parse("{\"ID\": 3}") }
  }

  @Test func repoDigestOfAPulledTag() throws {
    let output =
      "[\"registry.example.com/acme/other@sha256:\(String(repeating: "1", count: 64))\",\"\(planRepo)@\(digestA)\"]\n"
    #expect(try DockerOutput.repoDigest(output, repository: planRepo).value == digestA)
    #expect(
      try DockerOutput.repoDigest("[\"nginx@\(digestA)\"]", repository: "docker.io/library/nginx").value
        == digestA)
    #expect {
      try DockerOutput.repoDigest("[]", repository: planRepo)
    } throws: { error in
      String(describing: error).contains("never pushed")
    }
    #expect(throws: DockerError.self) {
      try DockerOutput.repoDigest("[\"\(planRepo)@sha256:abc\"]", repository: planRepo)
    }
  }
}
