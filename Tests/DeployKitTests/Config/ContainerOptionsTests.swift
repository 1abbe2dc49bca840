import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

/// `container:`'s Docker options: read into the model, refused at file:line:col, and the
/// `docker run` words they become.
@Suite struct ContainerOptionsTests {
  static let everyOption = """
    app: web
    image: registry.example.com/acme/web
    container:
      network: backend
      network_aliases: [web, api]
      memory: 512m
      cpus: 1.5
      user: "1000:1000"
      gpus: "device=0,1"
      hostname: web-${environment}
      entrypoint: ["/bin/serve", "--quiet"]
      workdir: /app
      add_hosts: ["db.internal:10.0.0.5", "v6:fd00::5"]
      cap_add: [NET_BIND_SERVICE, cap_chown]
      cap_drop: [ALL]
      read_only: true
      tmpfs: ["/tmp", "/run:size=64m"]
      labels: {team: web, com.example.tier: front}
      ulimits: {nofile: 4096, nproc: {soft: 100, hard: 200}}
      docker_args: ["--pids-limit=200"]
      command: ["--port", "8080"]

    """

  @Test func everyOptionIsReadIntoThePlanAndTheRunSpec() throws {
    let fixture = try ConfigFixture(["playbooks/web.yml": Self.everyOption])
    let validation = fixture.validate()
    #expect(validation.diagnostics == [])
    let project = try fixture.load()
    let dev = try project.inventory(named: "dev")
    let plan = try project.plan(app: nil).resolved(for: dev, host: dev.hosts[0])
    let o = plan.container.options
    #expect(o.network == "backend")
    #expect(o.networkAliases == ["web", "api"])
    #expect(o.memory == "512m")
    #expect(o.cpus == 1.5)
    #expect(o.user == "1000:1000")
    #expect(o.gpus == "\"device=0,1\"")
    #expect(o.hostname == "web-dev")
    #expect(o.entrypoint == ["/bin/serve", "--quiet"])
    #expect(o.workdir == "/app")
    #expect(o.addHosts == ["db.internal:10.0.0.5", "v6:fd00::5"])
    #expect(o.capAdd == ["NET_BIND_SERVICE", "CHOWN"])
    #expect(o.capDrop == ["ALL"])
    #expect(o.readOnly)
    #expect(o.tmpfs == ["/tmp", "/run:size=64m"])
    #expect(
      o.ulimits == [
        .init(name: "nofile", soft: 4096, hard: 4096), .init(name: "nproc", soft: 100, hard: 200),
      ])
    #expect(o.dockerArgs == ["--pids-limit=200"])
    #expect(plan.container.labels == ["team": "web", "com.example.tier": "front"])

    let image = try ImageReference.parse("registry.example.com/acme/web@" + digestA)
    let spec = plan.runSpec(image: image, release: "r1")
    let argv = try #require(try DockerCommand.run(spec).argv)
    let imageIndex = try #require(argv.firstIndex(of: image.pinned!))
    #expect(
      Array(argv[imageIndex...]) == [image.pinned!, "--quiet", "--port", "8080"],
      "the entrypoint's arguments come before the command")
    let options = Array(argv[..<imageIndex])
    #expect(
      options.suffix(40) == [
        "--network", "backend", "--network-alias", "web", "--network-alias", "api",
        "--hostname", "web-dev", "--add-host", "db.internal:10.0.0.5", "--add-host", "v6:fd00::5",
        "--memory", "512m", "--cpus", "1.5", "--gpus", "\"device=0,1\"", "--user", "1000:1000",
        "--workdir", "/app", "--entrypoint", "/bin/serve", "--cap-add", "NET_BIND_SERVICE",
        "--cap-add", "CHOWN", "--cap-drop", "ALL", "--read-only", "--tmpfs", "/tmp", "--tmpfs",
        "/run:size=64m", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=100:200", "--pids-limit=200",
      ])
    #expect(options.contains("team=web") && options.contains("com.example.tier=front"))
    // The line the host's shell gets: the quoted GPU request stays one word.
    #expect(try DockerCommand.run(spec).line.contains("--gpus '\"device=0,1\"'"))
  }

  @Test func aReleaseRecordWithoutOptionsStillDecodesAndOptionsRoundTrip() throws {
    var spec = try fullSpec()
    let old = try JSONEncoder().encode(spec)
    #expect(!String(decoding: old, as: UTF8.self).contains("\"options\""))
    #expect(try JSONDecoder().decode(ContainerRunSpec.self, from: old).options == ContainerOptions())
    spec.options = ContainerOptions(
      network: "backend", memory: "1g", cpus: 2, gpus: "all", readOnly: true,
      ulimits: [.init(name: "nofile", soft: 1, hard: 2)], dockerArgs: ["--init"])
    let new = try JSONEncoder().encode(spec)
    #expect(try JSONDecoder().decode(ContainerRunSpec.self, from: new) == spec)
    #expect(DockerCommand.runArguments(spec).contains("--cpus"))
    #expect(ContainerOptions(cpus: 2).arguments == ["--cpus", "2"])
    #expect(ContainerOptions(gpus: "3").arguments == ["--gpus", "3"])
  }

  @Test func aHandMadeSpecWithABadDockerArgumentIsRefused() throws {
    var spec = try fullSpec()
    spec.options.dockerArgs = ["200"]
    #expect(throws: DockerError.self) { try DockerCommand.run(spec) }
  }

  @Test func badValuesAreRefusedAtTheirPlace() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": """
      app: web
      image: registry.example.com/acme/web
      container:
        network: "back end"
        memory: 2m
        cpus: 0
        user: "1000:"
        gpus: "device=0;1"
        hostname: -web
        entrypoint: "/bin/serve"
        workdir: app
        add_hosts: ["db.internal", "db:10.0.0.999"]
        cap_add: [NET_BIND_SERVIC]
        cap_drop: [CAP_FOO]
        read_only: yes
        tmpfs: [tmp]
        labels: {deployctl.release: x}
        ulimits: {nofiles: 10, nproc: {soft: 200, hard: 100}, core: "1"}
        docker_args: ["--pids-limit", "200"]

      """
    ])
    let v = fixture.validate()
    let f = fixture.path("playbooks/web.yml")
    expectDiagnostic(v, f, 4, 12, "`container.network`: `back end` is not a network name")
    expectDiagnostic(v, f, 5, 11, "below Docker's minimum memory limit of 6m")
    expectDiagnostic(v, f, 6, 9, "`container.cpus`: must be more than 0")
    expectDiagnostic(v, f, 7, 9, "`1000:` is not a user")
    expectDiagnostic(v, f, 8, 9, "devices are indexes or UUIDs")
    expectDiagnostic(v, f, 9, 13, "`-web` is not a host name")
    expectDiagnostic(v, f, 10, 15, "`container.entrypoint` must be a list of arguments")
    expectDiagnostic(v, f, 11, 12, "`app` must be an absolute path")
    expectDiagnostic(v, f, 12, 15, "`db.internal` has no `:`")
    expectDiagnostic(v, f, 12, 30, "`10.0.0.999` is not an IPv4 or IPv6 address")
    expectDiagnostic(
      v, f, 13, 13, "`NET_BIND_SERVIC` is not a Linux capability; did you mean `NET_BIND_SERVICE`?")
    expectDiagnostic(v, f, 14, 14, "`CAP_FOO` is not a Linux capability")
    expectDiagnostic(v, f, 15, 14, "`container.read_only` must be true or false")
    expectDiagnostic(v, f, 16, 11, "`tmp` must be an absolute path")
    expectDiagnostic(v, f, 17, 12, "labels under `deployctl.` are deployctl's own")
    expectDiagnostic(v, f, 18, 13, "unknown key `nofiles` in `container.ulimits`; did you mean `nofile`?")
    expectDiagnostic(v, f, 18, 40, "`container.ulimits.nproc.soft` is 200, above `hard` (100)")
    expectDiagnostic(v, f, 18, 63, "`container.ulimits.core` must be a limit")
    expectDiagnostic(v, f, 19, 33, "`200` does not start with `-`")
    #expect(!v.isValid)
  }

  @Test func gpusTakesAllACountOrADeviceList() throws {
    for (text, expected) in [("all", "all"), ("2", "2"), ("\"device=0\"", "\"device=0\"")] {
      let plan = Self.everyOption.replacingOccurrences(of: "gpus: \"device=0,1\"", with: "gpus: \(text)")
      let fixture = try ConfigFixture(["playbooks/web.yml": plan])
      let project = try fixture.load()
      let dev = try project.inventory(named: "dev")
      #expect(
        try project.plan(app: nil).resolved(for: dev, host: dev.hosts[0]).container.options.gpus == expected)
    }
    let quoted = Self.everyOption.replacingOccurrences(of: "gpus: \"device=0,1\"", with: "gpus: \"0\"")
    let v = try ConfigFixture(["playbooks/web.yml": quoted]).validate()
    #expect(v.diagnostics.contains { $0.message.contains("`0` is not a GPU request") }, "\(v.diagnostics)")
  }

  @Test func hostVariablesAreSubstitutedPerHostAndCheckedAfterwards() throws {
    let plan = "app: web\nimage: registry.example.com/acme/web\ncontainer:\n  hostname: web-${REGION}\n"
    let project = try ConfigFixture(["playbooks/web.yml": plan]).load()
    let prod = try project.inventory(named: "prod")
    let hosts = try project.plan(app: nil).resolved(for: prod).hosts
    #expect(hosts.map(\.container.options.hostname) == ["web-eu-west", "web-eu-central"])

    let bad = try ConfigFixture([
      "playbooks/web.yml":
        "app: web\nimage: registry.example.com/acme/web\ncontainer:\n  hostname: ${REGION}_x\n"
    ])
    let v = bad.validate()
    // One per host of every environment (dev-1, web1, web2), each with that host's value.
    let errors = v.diagnostics.filter {
      $0.location == DeployConfig.SourceLocation(file: bad.path("playbooks/web.yml"), line: 4, column: 13)
        && $0.message.contains("is not a host name") && $0.message.contains("after substitution")
    }
    #expect(errors.count == 3, "\(v.diagnostics)")
    #expect(errors.contains { $0.message.contains("`eu-west_x`") })
  }

  @Test func networkAliasesNeedANetwork() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml":
        "app: web\nimage: registry.example.com/acme/web\ncontainer:\n  network_aliases: [web]\n"
    ])
    expectDiagnostic(fixture.validate(), fixture.path("playbooks/web.yml"), 4, 3, "needs `container.network`")
  }

  @Test func requireNetworksStopsTheScriptWithHowToCreateTheNetwork() {
    let script = DockerCommand.requireNetworks(["back'end"]).line
    #expect(script.contains("docker network inspect 'back'\\''end'"))
    #expect(script.contains("docker network create back"))
    #expect(script.contains("exit \(DockerCommand.unchangedExitStatus)"))
    #expect(DockerCommand.requireNetworks([]) == .success)
  }
}
