import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployTransport

/// `SwarmHost` and `SwarmTasks` against canned answers of a manager.
@Suite struct SwarmHostTests {
  static func id(_ n: Int) -> String { String(repeating: "\(n)", count: 25) }

  /// Three nodes cloned from one image: one host name, three addresses.
  static let nodes = """
    \(id(1))\tnode\t10.0.1.10\tready
    \(id(2))\tnode\t10.0.1.11\tready
    \(id(3))\tnode\t10.0.1.12\tready
    """

  static func task(_ n: Int, image: String, state: String, desired: String = "Running", error: String = "")
    -> String
  {
    ["t\(n)" + String(repeating: "x", count: 20), "web.\(n)", "node", desired, state, image, error].joined(
      separator: "\t")
  }

  @Test func tasksAreMatchedToTheirNodesByIDNotByHostName() {
    let image = "registry.example.com/acme/web:v2@sha256:" + String(repeating: "ab", count: 32)
    let list = (1...3).map { Self.task($0, image: image, state: "Running 5 seconds ago") }.joined(
      separator: "\n")
    let placements = (1...3).map { "t\($0)" + String(repeating: "x", count: 20) + "\t" + Self.id($0) }
      .joined(separator: "\n")
    let tasks = SwarmTasks.parse([
      "tasks": .init(lines: list.split(separator: "\n").map(String.init), status: 0),
      "placements": .init(lines: placements.split(separator: "\n").map(String.init), status: 0),
      "nodes": .init(lines: Self.nodes.split(separator: "\n").map(String.init), status: 0),
    ])
    #expect(tasks.map(\.address) == ["10.0.1.10", "10.0.1.11", "10.0.1.12"])
    #expect(tasks.map(\.node) == ["node", "node", "node"])
    #expect(tasks.allSatisfy { $0.isRunning })
  }

  @Test func aNodeThatAdvertisesNothingHasNoAddress() {
    let nodes = SwarmTasks.parseNodes("\(Self.id(1))\tmgr\t0.0.0.0\tready\n\(Self.id(2))\tw\t10.0.0.2\tready")
    #expect(nodes.map(\.address) == [nil, "10.0.0.2"])
  }

  @Test func theReadingCommandsPlaceTasksByNodeID() {
    let commands = SwarmTasks.reading("web").map { $0.1.line }
    #expect(commands.contains { $0.contains("--no-resolve") && $0.contains("{{.Node}}") })
    #expect(commands.contains { $0.contains("{{.ID}}") && $0.contains("docker node inspect") })
  }

  static let mount = "invalid mount config for type \"bind\": bind source path does not exist: /srv/missing"

  @Test func everyTaskRejectedWithOneErrorIsARejection() {
    let image = "img@sha256:1"
    let rejected = (1...3).map {
      SwarmTasks.parse(
        Self.task($0, image: image, state: "Rejected 1 second ago", desired: "Shutdown", error: Self.mount))[
          0]
    }
    #expect(SwarmTasks.rejection(rejected, image: image, replicas: 3) == Self.mount)
    // Fewer tries than replicas, another error, or a task running: not (yet) a verdict.
    #expect(SwarmTasks.rejection(Array(rejected.prefix(2)), image: image, replicas: 3) == nil)
    var other = rejected
    other[2].error = "no suitable node"
    #expect(SwarmTasks.rejection(other, image: image, replicas: 3) == nil)
    var running = rejected
    running.append(SwarmTasks.parse(Self.task(4, image: image, state: "Running 1 second ago"))[0])
    #expect(SwarmTasks.rejection(running, image: image, replicas: 3) == nil)
    // Tasks of the old spec do not count.
    #expect(SwarmTasks.rejection(rejected, image: "img@sha256:2", replicas: 3) == nil)
  }

  func swarmHost(_ transport: CannedTransport) throws -> (SwarmHost, EnvironmentPlan) {
    let fixture = try ConfigFixture(
      [
        "inventories/prod.yml": SwarmConfigTests.swarmInventory,
        "playbooks/web.yml":
          "app: web\nimage: registry.example.com/acme/web\ncontainer:\n  ports: [\"8080:8080\"]\n",
      ], base: false)
    let project = try fixture.load()
    let plan = try project.plan(app: "web").resolved(for: project.inventory(named: "prod"))
    let settings = try #require(plan.engine.swarm)
    let host = try SwarmHost(
      plan: try #require(plan.hosts.first), settings: settings,
      policy: SwarmService.Policy(plan: plan, settings: settings, registryAuth: false), transport: transport,
      progress: ProgressLog(terminal: Terminal(colors: false, write: { _ in })), stop: StopRequest())
    return (host, plan)
  }

  @Test func aCreateWhoseEveryTaskIsRejectedStopsAtOnceAndSaysWhy() async throws {
    var spec = try fullSpec()
    spec.environment = "prod"
    let image = spec.image.pinned ?? spec.image.description
    let service = """
      [{"ID":"svc1","Spec":{"Labels":{},"TaskTemplate":{"ContainerSpec":{"Image":"\(image)"}},\
      "Mode":{"Replicated":{"Replicas":3}}}}]
      """
    let tasks = (1...6).map {
      Self.task($0, image: image, state: "Rejected 1 second ago", desired: "Shutdown", error: Self.mount)
    }
    let transport = CannedTransport { _ in ["service": ([service], Int32(0)), "tasks": (tasks, Int32(0))] }
    let (host, _) = try swarmHost(transport)
    let release = try ReleaseRecord(
      container: spec, createdAt: Date(), user: "alice", how: .deploy, result: .deployed)
    let clock = ContinuousClock()
    let start = clock.now
    await #expect {
      try await host.check(InstallPlan(release: release, previous: nil, replacing: nil))
    } throws: { error in
      "\(error)".contains("Swarm rejected every task of \(spec.release)") && "\(error)".contains(Self.mount)
    }
    #expect(clock.now - start < .seconds(5))
    #expect(transport.sent.current.count == 1)
  }

  @Test func restoreOfAServiceThisRunCreatedRemovesItAndItsSecrets() throws {
    let (host, _) = try swarmHost(CannedTransport { _ in [:] })
    var spec = try fullSpec()
    spec.environment = "prod"
    let release = try ReleaseRecord(
      container: spec, createdAt: Date(), user: "a", how: .deploy, result: .deployed)
    let script = host.restoreScript(InstallPlan(release: release, previous: nil, replacing: nil))
    #expect(script.sections.map(\.name) == ["remove", "secrets"])
    #expect(script.sections.map(\.failure) == [.stops, .isAnswer])
    #expect(script.text.contains("docker service rm web >/dev/null"))
    #expect(script.text.contains("| xargs docker secret rm"))
  }
}
