import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

/// `roles:` in a plan: each role's container, health and proxy over the plan's, which hosts run
/// which role, and the mistakes `validate` refuses at their place.
@Suite struct RolesConfigTests {
  static let plan = """
    app: web
    image: registry.example.com/acme/web
    container:
      env: {APP_ENV: "${environment}"}
    health:
      http: {port: 8080, path: /healthz}
    roles:                             # optional; without it the plan is one role named web
      web:
        hosts: [web1, web2, dev-1]     # inventory host names or "all" (default)
        proxy: {app_port: 8080}
      worker:
        hosts: [web2, dev-1]
        command: ["celery", "-A", "app", "worker"]
        health: ~
      scheduler:
        hosts: [web2, dev-1]
        command: ["python", "-m", "app.scheduler"]
        env: {ROLE: scheduler}

    """

  @Test func eachHostRunsItsRolesWithTheirOwnKeys() throws {
    let fixture = try ConfigFixture(["playbooks/web.yml": Self.plan])
    let validation = fixture.validate()
    #expect(validation.project != nil, "\(validation.diagnostics.map(\.description))")
    let project = try fixture.load()
    let prod = try project.plan(app: "web").resolved(for: project.inventory(named: "prod"))
    let web1 = try #require(prod.host(named: "web1"))
    #expect(web1.roles.map(\.name) == ["web"])
    let web2 = try #require(prod.host(named: "web2"))
    #expect(web2.roles.map(\.name) == ["web", "worker", "scheduler"])
    let roles = Dictionary(uniqueKeysWithValues: web2.roles.map { ($0.name, $0) })
    #expect(roles["web"]?.container.name == "web-web")
    #expect(roles["web"]?.proxy?.appPort == 8080)
    #expect(roles["worker"]?.container.name == "web-worker")
    #expect(roles["worker"]?.container.command == ["celery", "-A", "app", "worker"])
    #expect(roles["worker"]?.health == nil)
    #expect(roles["worker"]?.proxy == nil)
    // Container keys merge over the plan's; health is inherited unless the role sets its own.
    #expect(roles["scheduler"]?.container.env.map(\.name) == ["APP_ENV", "ROLE"])
    #expect(roles["scheduler"]?.health != nil)
  }

  @Test func aPlanWithoutRolesIsOneRoleNamedWeb() throws {
    let fixture = try ConfigFixture()
    let project = try fixture.load()
    let plan = try project.plan(app: "web").resolved(for: project.inventory(named: "dev")).hosts[0]
    #expect(plan.roles.isEmpty)
    #expect(plan.rolePlans.map(\.role) == ["web"])
    #expect(plan.rolePlans[0].plan.container.name == "web")
  }

  @Test func mistakesAtTheirPlace() throws {
    func check(
      _ roles: String, _ line: Int, _ column: Int, _ text: String,
      severity: DeployConfig.Diagnostic.Severity = .error,
      sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
      let plan = "app: web\nimage: registry.example.com/acme/web\nroles:\n\(roles)"
      let fixture = try ConfigFixture(["playbooks/web.yml": plan])
      expectDiagnostic(
        fixture.validate(), fixture.path("playbooks/web.yml"), line, column, text, severity: severity,
        sourceLocation: sourceLocation)
    }
    try check(
      "  worker: {hosts: [web1, webb2]}\n", 4, 26,
      "there is no host `webb2` in any inventory; did you mean `web2`?")
    try check(
      "  web: {}\n  worker: {name: web-web}\n", 5, 12,
      "runs a container named `web-web`, like the role at line 4")
    try check("  worker: {hosts: [web1], colour: red}\n", 4, 27, "unknown key `colour` in `roles.worker`")
    // Only prod has web1: dev refuses the plan, validate says so as a warning.
    try check("  worker: {hosts: [web1]}\n", 4, 3, "has no host in environment `dev`", severity: .warning)
  }

  @Test func anEnvironmentWhereARoleHasNoHostRefusesThePlan() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml":
        "app: web\nimage: registry.example.com/acme/web\nroles:\n  web: {}\n  worker: {hosts: [web1]}\n"
    ])
    let project = try fixture.load()
    #expect(throws: ConfigErrors.self) {
      try project.plan(app: "web").resolved(for: project.inventory(named: "dev"))
    }
    let prod = try project.plan(app: "web").resolved(for: project.inventory(named: "prod"))
    #expect(prod.host(named: "web1")?.roles.map(\.name) == ["web", "worker"])
  }

  @Test func recordsHoldEveryRoleAndGiveEachItsContainer() throws {
    let image = try ImageReference.parse(
      "registry.example.com/web@sha256:" + String(repeating: "a", count: 64))
    func spec(_ name: String) -> ContainerRunSpec {
      ContainerRunSpec(
        name: name, image: image, app: "web", environment: "prod", release: "20261204-120000-abcd")
    }
    var record = try ReleaseRecord(
      container: spec("web-web"), createdAt: Date(), user: "me", how: .deploy, result: .deployed)
    #expect(record.container(ofRole: "web", primary: true)?.name == "web-web")
    #expect(record.container(ofRole: "worker", primary: false) == nil)
    record.roles = [
      RoleRecord(name: "web", container: spec("web-web")),
      RoleRecord(name: "worker", container: spec("web-worker")),
    ]
    #expect(record.container(ofRole: "worker", primary: false)?.name == "web-worker")
    let line = HostStateJSON.line(record)
    let back = try HostStateJSON.decoder().decode(ReleaseRecord.self, from: Data(line.utf8))
    #expect(back == record)
  }
}
