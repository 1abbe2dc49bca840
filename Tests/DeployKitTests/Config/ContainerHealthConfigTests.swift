import Foundation
import Testing

@testable import DeployConfig
@testable import DeployKit

/// `health.cmd`, `health.running`, `health.docker` and `release_command` in a plan
/// (docs/configuration.md "Health checks without HTTP", "Release command").
@Suite struct ContainerHealthConfigTests {
  static func plan(_ tail: String) -> String {
    "app: web\nimage: registry.example.com/acme/web\n" + tail
  }

  func resolved(_ tail: String) throws -> ResolvedPlan {
    let project = try ConfigFixture(["playbooks/web.yml": Self.plan(tail)]).load()
    let dev = try project.inventory(named: "dev")
    return try project.plan(app: nil).resolved(for: dev, host: dev.hosts[0])
  }

  @Test func eachKindIsRead() throws {
    let cmd = try resolved("health: {cmd: [pg_isready, -q], interval: 1s, retries: 3}\n")
    #expect(cmd.health?.probe == .cmd(["pg_isready", "-q"]))
    #expect(cmd.health?.interval == .seconds(1))
    #expect(cmd.health?.retries == 3)
    let running = try resolved("health: {running: 20s}\n")
    #expect(running.health?.probe == .running(.seconds(20)))
    let docker = try resolved("health: {docker: true, start_period: 0}\n")
    #expect(docker.health?.probe == .docker)
    #expect(docker.health?.startPeriod == .zero)
  }

  @Test func badChecksAreRefusedAtTheirPlace() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": Self.plan(
        """
        environments:
          dev:
            health: {running: 1s, interval: 2s}
          prod:
            health: {running: 20s, cmd: [true]}

        """)
    ])
    let v = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(v, file, 5, 23, "`health.running` (1s) is shorter than `health.interval` (2s)")
    expectDiagnostic(v, file, 7, 14, "`health` has `cmd` and `running`; keep one kind of check")
    #expect(!v.isValid)
    let empty = try ConfigFixture(["playbooks/web.yml": Self.plan("health:\n  cmd: []\n")])
    expectDiagnostic(
      empty.validate(), empty.path("playbooks/web.yml"), 4, 8, "`health.cmd` is an empty command")
  }

  @Test func aCommandMustBeAListWithAProgram() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": Self.plan("health: {cmd: \"curl -f localhost\"}\nrelease_command: ./migrate\n")
    ])
    let v = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(v, file, 3, 15, "`health.cmd` must be a command as a list of arguments")
    expectDiagnostic(v, file, 4, 18, "`release_command` must be a command as a list of arguments")
  }

  @Test func releaseCommandAndItsTimeout() throws {
    let plan = try resolved("release_command: [python, manage.py, migrate]\nrelease_timeout: 90s\n")
    #expect(
      plan.releaseCommand
        == ReleaseCommandSpec(command: ["python", "manage.py", "migrate"], timeout: .seconds(90)))
    let defaults = try resolved("release_command: [./migrate]\n")
    #expect(defaults.releaseCommand?.timeout == .seconds(600))
    let project = try ConfigFixture(["playbooks/web.yml": Self.plan("release_command: [./migrate]\n")]).load()
    #expect(try project.plan(app: nil).resolved(for: project.inventory(named: "dev")).releaseCommand != nil)
    let fixture = try ConfigFixture([
      "playbooks/web.yml": Self.plan("release_command: [\"\", x]\nrelease_timeout: 0\n")
    ])
    let v = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(v, file, 3, 19, "`release_command[0]` is empty")
  }

  @Test func swarmRefusesWhatItCannotRun() throws {
    let fixture = try ConfigFixture([
      "inventories/prod.yml": SwarmConfigTests.swarmInventory,
      "playbooks/web.yml": Self.plan("health: {running: 10s}\nrelease_command: [./migrate]\n"),
    ])
    let v = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(v, file, 3, 9, "`cmd:` and `running:` need `engine: hosts`")
    expectDiagnostic(v, file, 4, 18, "`release_command` runs in a container on a host")
  }
}
