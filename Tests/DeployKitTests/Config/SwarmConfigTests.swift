import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

/// `engine: swarm` in an inventory, `rollout.order` in a plan, and how a plan becomes a Swarm
/// service's `docker service create/update` words (no Docker needed: the words are the contract;
/// `SwarmTests` runs them on a real swarm).
@Suite struct SwarmConfigTests {
  /// The short Swarm inventory example (docs/configuration.md "Swarm" has a fuller one).
  static let swarmInventory = """
    environment: prod
    engine: swarm                      # hosts (default) | swarm
    swarm:
      manager: mgr1                    # one of the hosts below: every command runs there
      replicas: 3                      # default 1
    ssh:
      user: deploy
    hosts:
      mgr1: {address: 10.0.1.10, vars: {REGION: eu-west}}

    """

  @Test func specExampleLoadsAsASwarmWhoseOnlyHostIsTheManager() throws {
    let fixture = try ConfigFixture([
      "inventories/prod.yml": Self.swarmInventory.replacing(
        "environment: prod\n", with: "environment: prod\npromote_from: dev\n")
    ])
    let validation = fixture.validate()
    #expect(validation.project != nil, "\(validation.diagnostics.map(\.description))")
    // The plan's bind mount must exist on every node: said, at its place, as a warning.
    expectDiagnostic(
      validation, fixture.path("playbooks/web.yml"), 5, 13, "must exist on every node", severity: .warning)
    let project = try fixture.load()
    let plan = try project.plan(app: "web").resolved(for: project.inventory(named: "prod"))
    #expect(
      plan.engine.swarm
        == SwarmSettings(
          manager: "mgr1", replicas: 3, publish: .ingress, location: plan.engine.swarm!.location))
    #expect(plan.hosts.map(\.host.name) == ["mgr1"])
    let dev = try project.plan(app: "web").resolved(for: project.inventory(named: "dev"))
    #expect(dev.engine == .hosts)
  }

  @Test func everyMistakeInEngineAndSwarmAtItsPlace() throws {
    func check(
      _ inventory: String, _ line: Int, _ column: Int, _ text: String,
      sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
      let fixture = try ConfigFixture(["inventories/prod.yml": inventory])
      expectDiagnostic(
        fixture.validate(), fixture.path("inventories/prod.yml"), line, column, text,
        sourceLocation: sourceLocation)
    }
    let hosts = "ssh:\n  user: deploy\nhosts:\n  mgr1: {address: 10.0.1.10}\n"
    try check("environment: prod\nengine: kubernetes\n" + hosts, 2, 9, "is not an engine")
    try check("environment: prod\nswarm: {manager: mgr1}\n" + hosts, 2, 8, "only read with `engine: swarm`")
    try check("environment: prod\nengine: swarm\n" + hosts, 2, 9, "needs a `swarm:` mapping")
    try check(
      "environment: prod\nengine: swarm\nswarm: {manager: mrg1}\n" + hosts, 3, 18,
      "`swarm.manager: mrg1` is not one of this inventory's hosts (mgr1)")
    try check(
      "environment: prod\nengine: swarm\nswarm: {manager: mgr1, replicas: 0}\n" + hosts, 3, 34,
      "`swarm.replicas`")
    try check(
      "environment: prod\nengine: swarm\nswarm: {manager: mgr1, publish: mesh}\n" + hosts, 3, 33,
      "is not a publish mode")
    try check(
      "environment: prod\nengine: swarm\nswarm: {replicas: 2}\n" + hosts, 3, 8,
      "missing required key `manager`")
  }

  @Test func optionsSwarmLacksAreRefusedForTheSwarmOnly() throws {
    let plan = """
      app: web
      image: registry.example.com/acme/web
      container:
        ports: ["127.0.0.1:8080:8080"]
        gpus: all
        docker_args: ["--pids-limit=200"]

      """
    let fixture = try ConfigFixture(["inventories/prod.yml": Self.swarmInventory, "playbooks/web.yml": plan])
    let validation = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(validation, file, 5, 9, "`gpus` is a `docker run` option Swarm services do not have")
    expectDiagnostic(validation, file, 6, 16, "`docker_args` are `docker run` flags")
    expectDiagnostic(validation, file, 4, 11, "drop the bind address `127.0.0.1`")
    // Each names the environment; dev (engine: hosts) takes the same plan.
    #expect(
      validation.diagnostics.filter { $0.severity == .error }.allSatisfy {
        $0.message.contains("environment `prod`")
      })
  }

  @Test func startFirstOnHostsIsRefusedWhileAHostPortIsPublished() throws {
    let withPort = """
      app: web
      image: registry.example.com/acme/web
      container:
        ports: ["8080:8080"]
      rollout:
        order: start-first

      """
    let fixture = try ConfigFixture(["playbooks/web.yml": withPort])
    let validation = fixture.validate()
    // Once per environment (dev and prod are both `engine: hosts` here).
    for environment in ["dev", "prod"] {
      let match = validation.diagnostics.filter {
        $0.message.contains("still holds host port 8080")
          && $0.message.contains("environment `\(environment)`")
          && $0.location.line == 6 && $0.location.column == 10
      }
      #expect(match.count == 1, "\(validation.diagnostics.map(\.description))")
    }
    let noPort = try ConfigFixture([
      "playbooks/web.yml": withPort.replacing("  ports: [\"8080:8080\"]\n", with: "  env: {A: b}\n")
    ])
    #expect(noPort.validate().project != nil)
    let project = try noPort.load()
    #expect(
      try project.plan(app: "web").resolved(for: project.inventory(named: "dev")).rollout.order == .startFirst
    )
    let bad = try ConfigFixture(["playbooks/web.yml": withPort.replacing("start-first", with: "blue-green")])
    expectDiagnostic(bad.validate(), bad.path("playbooks/web.yml"), 6, 10, "is not an update order")
  }

  // MARK: the service's words

  static func spec(release: String = "20261130-120000-abcd", secrets: [String] = ["DB_PASSWORD"]) throws
    -> ContainerRunSpec
  {
    var spec = ContainerRunSpec(
      name: "web",
      image: try ImageReference.parse(
        "registry.example.com/acme/web@sha256:" + String(repeating: "a", count: 64), defaultRepository: "x"),
      ports: [PortMapping(hostPort: 8080, containerPort: 80)],
      volumes: [VolumeMount(source: "/srv/web", target: "/data")], env: [EnvVar("A", "1")],
      restart: .unlessStopped, stopTimeout: .seconds(5), app: "web", environment: "prod", release: release)
    spec.secretNames = secrets
    return spec
  }

  @Test func createPinsTheDigestAndMapsThePolicy() throws {
    let policy = SwarmService.Policy(
      replicas: 4, publish: .host, parallelism: 2, order: .startFirst, monitor: .milliseconds(10_500),
      maxFailureRatio: 0.25)
    let argv = try SwarmService.createArguments(Self.spec(), policy)
    let line = argv.joined(separator: " ")
    #expect(argv.suffix(1) == ["registry.example.com/acme/web@sha256:" + String(repeating: "a", count: 64)])
    for part in [
      "--name web", "--replicas 4", "--no-resolve-image", "--update-parallelism 2",
      "--update-order start-first",
      "--update-failure-action rollback", "--update-monitor 11s", "--update-max-failure-ratio 0.25",
      "--rollback-order start-first", "--restart-condition any", "--stop-grace-period 5s",
      "--publish published=8080,target=80,protocol=tcp,mode=host",
      "--mount type=bind,source=/srv/web,target=/data",
      "--env A=1", "--env DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD",
      "--secret source=web-prod-20261130-120000-abcd-DB_PASSWORD,target=DB_PASSWORD,mode=0400",
      "--label deployctl.release=20261130-120000-abcd",
    ] {
      #expect(line.contains(part), "missing \(part) in \(line)")
    }
  }

  @Test func theBatchOfTheReplicasIsTheParallelismAndMaxFailuresTheRatio() throws {
    let fixture = try ConfigFixture([
      "inventories/prod.yml": Self.swarmInventory.replacing("replicas: 3", with: "replicas: 4"),
      "playbooks/web.yml": ConfigFixture.webPlan + "rollout:\n  batch: \"50%\"\n  max_failures: 1\n",
    ])
    let project = try fixture.load()
    let plan = try project.plan(app: "web").resolved(for: project.inventory(named: "prod"))
    let policy = SwarmService.Policy(plan: plan, settings: plan.engine.swarm!, registryAuth: false)
    #expect(policy.parallelism == 2)
    #expect(policy.maxFailureRatio == 0.25)
    #expect(policy.replicas == 4)
    // The health check's span: start_period 5s + interval 2s × retries 15.
    #expect(policy.monitor == .seconds(35))
  }

  @Test func anUpdateRemovesOnlyWhatItDoesNotSetAgain() throws {
    // The docker CLI applies --*-rm after --*-add: removing a key that is added again would drop it.
    let current = ServiceState(
      id: "x", image: "old", release: "r0", labels: ["deployctl.release": "r0", "team": "web"],
      containerLabels: ["deployctl.release": "r0"],
      ports: [
        "published=8080,target=80,protocol=tcp,mode=host", "published=9090,target=90,protocol=tcp,mode=host",
      ], mountTargets: ["/data", "/old"], envNames: ["A", "OLD", "DB_PASSWORD_FILE"],
      secrets: ["web-prod-r0-DB_PASSWORD"], networks: [], hosts: ["db:10.0.0.5"], ulimits: ["nofile"],
      replicas: 4,
      updateState: "completed", updateMessage: nil)
    let argv = try SwarmService.updateArguments(
      Self.spec(), SwarmService.Policy(replicas: 4, publish: .host), current: current)
    func values(_ flag: String) -> [String] {
      argv.indices.filter { argv[$0] == flag }.map { argv[$0 + 1] }
    }
    #expect(values("--publish-rm") == ["published=9090,target=90,protocol=tcp,mode=host"])
    #expect(values("--publish-add").isEmpty, "8080 is already published as asked")
    #expect(values("--mount-rm") == ["/old"])
    #expect(values("--env-rm") == ["OLD"])
    #expect(values("--env-add") == ["A=1", "DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD"])
    #expect(values("--label-rm") == ["team"])
    #expect(values("--secret-rm") == ["web-prod-r0-DB_PASSWORD"])
    #expect(
      values("--secret-add") == [
        "source=web-prod-20261130-120000-abcd-DB_PASSWORD,target=DB_PASSWORD,mode=0400"
      ])
    #expect(values("--host-rm") == ["db:10.0.0.5"])
    #expect(values("--ulimit-rm") == ["nofile"])
    #expect(
      values("--image") == ["registry.example.com/acme/web@sha256:" + String(repeating: "a", count: 64)])
    #expect(argv.last == "web")
  }

  @Test func aSecretTravelsEncodedOnStdinNeverAsAWord() throws {
    let value = "p@ss word\nline2"
    let command = try SwarmService.createSecrets(Self.spec(), values: [EnvVar("DB_PASSWORD", value)])
    #expect(!command.line.contains(value))
    #expect(command.line.contains(Data(value.utf8).base64EncodedString()))
    #expect(command.line.contains("docker secret create"))
    #expect(command.line.contains("web-prod-20261130-120000-abcd-DB_PASSWORD -"))
  }

  @Test func readsWhatServiceInspectSays() throws {
    let json = """
      [
          {
              "ID": "abc",
              "Spec": {
                  "Labels": {"deployctl.release": "r1"},
                  "Mode": {"Replicated": {"Replicas": 2}},
                  "TaskTemplate": {
                      "ContainerSpec": {
                          "Image": "repo@sha256:\(String(repeating: "b", count: 64))",
                          "Env": ["A=1", "B=x=y"],
                          "Mounts": [{"Type": "bind", "Source": "/srv", "Target": "/data"}],
                          "Hosts": ["10.0.0.5 db"],
                          "Secrets": [{"SecretName": "s1", "File": {"Name": "S"}}]
                      }
                  },
                  "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 8080, "PublishedPort": 18080, "PublishMode": "host"}]}
              },
              "UpdateStatus": {"State": "rollback_completed", "Message": "update rolled back due to failure"}
          }
      ]
      """
    let state = try #require(try ServiceState.parse(json, succeeded: true))
    #expect(state.release == "r1")
    #expect(state.replicas == 2)
    #expect(state.digest == "sha256:" + String(repeating: "b", count: 64))
    #expect(state.envNames == ["A", "B"])
    #expect(state.mountTargets == ["/data"])
    #expect(state.hosts == ["db:10.0.0.5"])
    #expect(state.secrets == ["s1"])
    #expect(state.ports == ["published=18080,target=8080,protocol=tcp,mode=host"])
    #expect(state.updateState == "rollback_completed")
    #expect(try ServiceState.parse("Error: no such service: web", succeeded: false) == nil)
    #expect(throws: DockerError.self) {
      try ServiceState.parse(
        "Error response from daemon: This node is not a swarm manager.", succeeded: false)
    }
  }
}
