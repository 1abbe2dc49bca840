import DeployConfig
import DeployEngine
import DeployKit
import Foundation
import TestSupport
import Testing

/// Swarm nodes as a new user's may be: cloned from one image, so sharing one host name (tasks
/// are placed on their nodes by node ID), and a bind source missing on every node (every task
/// rejected at once: the deploy says so instead of waiting out its bound).
@Suite("Swarm nodes end to end", .enabled(if: Testbed.isAvailable))
struct SwarmNodeTests {
  /// The swarm environment whose nodes share one host name (`make test` brings one up:
  /// `TESTBED_HOST_COUNTS=…,clones=2 TESTBED_SWARM='swarm clones' TESTBED_SWARM_SAME_HOSTNAME=clones`).
  static let sameHostname = Testbed.sameHostnameEnvironments.first

  @Test(
    "nodes with one host name: each task is probed at its own node's address",
    .enabled(if: sameHostname != nil, "the testbed has no swarm whose nodes share a host name"))
  func tasksOnNodesWithOneHostName() async throws {
    let environment = try #require(Self.sameHostname)
    var options = Scenario.Options()
    options.swarm = true
    try await Scenario.with(options) { s in
      let nodes = s.hosts(environment)
      try #require(nodes.count >= 2, "swarm \(environment) has several nodes")
      var names: Set<String> = []
      for node in nodes {
        _ = try await s.testbed.sshChecked(node, "mkdir -p /srv/\(s.app)/data")
        names.insert(
          try await s.testbed.sshChecked(node, "hostname").trimmingCharacters(in: .whitespacesAndNewlines))
      }
      try #require(names.count == 1, "the nodes of \(environment) share one host name: \(names)")
      do {
        let deploy = try await s.deployctl(["deploy", environment, "--image", "v1"])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        let status = try await s.deployctl(["status", environment]).document(StatusReport.self)
        let tasks = status.hosts.first?.tasks ?? []
        #expect(tasks.count == 2, "replicas: 2")
        let addresses = tasks.compactMap(\.address)
        #expect(Set(addresses).count == tasks.count, "each task at its own node: \(tasks)")
        #expect(Set(addresses).isSubset(of: Set(nodes.map(\.address))))
        #expect(tasks.allSatisfy { $0.health == "healthy" }, "\(tasks)")
        // What each of those nodes serves is the task deployctl probed there.
        for address in addresses {
          let served = try await HTTPProbe(url: "http://\(address):\(s.port)/version", timeout: .seconds(2))
            .run()
          #expect(served.status == 200 && served.body.contains("v1"), "\(address)")
        }
      } catch {
        await SwarmTests.removeService(s, in: environment)
        throw error
      }
      await SwarmTests.removeService(s, in: environment)
    }
  }

  @Test("a create whose every task is rejected (bind source missing on the nodes) fails at once, saying why")
  func everyTaskRejected() async throws {
    let environment = "swarm"
    var options = Scenario.Options()
    options.swarm = true
    try await Scenario.with(options) { s in
      try #require(s.hosts(environment).count == 3, "the testbed has a 3-node swarm environment")
      // No /srv/APP/data on any node: Swarm rejects each task when it places it.
      let clock = ContinuousClock()
      let start = clock.now
      let deploy = try await s.deployctl(["deploy", environment, "--image", "v1"])
      let took = clock.now - start
      await SwarmTests.removeService(s, in: environment)
      #expect(deploy.status == 1, "\(deploy.stderr)")
      let said = deploy.stdout + deploy.stderr
      #expect(said.contains("Swarm rejected every task"), "\(deploy.stderr)")
      #expect(said.contains("bind source path does not exist"), "\(deploy.stderr)")
      #expect(took < .seconds(90), "it did not wait out the convergence bound (\(took))")
    }
  }
}
