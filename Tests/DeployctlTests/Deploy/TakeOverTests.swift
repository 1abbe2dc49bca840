import Foundation
import Testing

/// Moving to deployctl from a hand-written `ssh host 'docker run …'` step: the container that
/// step started is not deployctl's, and must not be lost.
@Suite("Taking over a hand-started container end to end", .enabled(if: Testbed.isAvailable))
struct TakeOverTests {
  @Test("a failed first deploy brings the hand-started container back; a good one keeps it, stopped")
  func handStartedContainerIsKept() async throws {
    try await Scenario.with { s in
      let host = try #require(s.hosts("staging").first)
      let parked = "\(s.app)-before-deployctl"
      do {
        try await s.testbed.sshChecked(
          host, "docker run -d --name \(s.app) -p \(s.port):8080 \(s.testbed.ref("v1")) >/dev/null")
        #expect(try await s.version(on: host) == "v1")

        let broken = try await s.deployctl(["deploy", "staging", "--image", "broken"])
        #expect(broken.status == 1, "\(broken.stderr)")
        #expect(try await s.version(on: host) == "v1", "the hand-started container runs again")
        let labels = try await s.testbed.sshChecked(
          host, "docker inspect --format '{{index .Config.Labels \"deployctl.app\"}}' \(s.app)")
        #expect(labels.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "it is the original one")

        let good = try await s.deployctl(["deploy", "staging", "--image", "v2"])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(try await s.version(on: host) == "v2")
        let state = try await s.testbed.sshChecked(
          host, "docker inspect --format '{{.State.Status}}' \(parked)")
        #expect(state.trimmingCharacters(in: .whitespacesAndNewlines) == "exited")
      } catch {
        _ = try? await s.testbed.ssh(host, "docker rm -f \(s.app) \(parked) >/dev/null 2>&1")
        throw error
      }
      _ = try? await s.testbed.ssh(host, "docker rm -f \(s.app) \(parked) >/dev/null 2>&1")
    }
  }
}
