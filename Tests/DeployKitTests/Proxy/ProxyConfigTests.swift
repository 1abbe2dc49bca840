import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

/// `proxy:` in a plan: the example as docs/configuration.md shows it, and every mistake
/// `validate` refuses at its place (no hosts needed).
@Suite struct ProxyConfigTests {
  static let proxiedPlan = """
    app: web
    image: registry.example.com/acme/web
    container:
      volumes: ["/srv/web/data:/app/data"]
    proxy:                             # optional; with it the app publishes no host port
      app_port: 8080                   # required: the port the app listens on in its container
      hosts: [shop.example.com]        # optional: answer only for these Host names (default: any)
      path_prefix: /api                # optional
      https: off                       # off (default) | auto (ACME certificates for `hosts`) | internal (a local CA)
      http_port: 80                    # the ports the host's proxy publishes (defaults 80 and 443)
      https_port: 443
      drain: 30s                       # in-flight requests get this long on the old container
      response_timeout: 60s
      image: caddy:2                   # the proxy's image; the plan's `registry:` applies to it
    health:
      http: {port: 8080, path: /healthz}

    """

  @Test func theDocumentedExampleLoads() throws {
    let fixture = try ConfigFixture(["playbooks/web.yml": Self.proxiedPlan])
    let validation = fixture.validate()
    #expect(validation.project != nil, "\(validation.diagnostics.map(\.description))")
    #expect(!validation.diagnostics.contains { $0.severity == .warning }, "\(validation.diagnostics)")
    let project = try fixture.load()
    let plan = try project.plan(app: "web").resolved(for: project.inventory(named: "prod"))
    let proxy = try #require(plan.hosts[0].proxy)
    #expect(proxy.appPort == 8080)
    #expect(proxy.hosts == ["shop.example.com"])
    #expect(proxy.pathPrefix == "/api")
    #expect(proxy.https == .off)
    #expect(proxy.httpPort == 80 && proxy.httpsPort == 443)
    #expect(proxy.drain == .seconds(30))
    #expect(proxy.image.description == "caddy:2")
    #expect(proxy.claims == ["shop.example.com/api"])
  }

  @Test func defaultsAreThoseOfTheDocs() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": "app: web\nimage: registry.example.com/acme/web\nproxy: {app_port: 3000}\n"
    ])
    let project = try fixture.load()
    let proxy = try #require(
      try project.plan(app: "web").resolved(for: project.inventory(named: "dev")).hosts[0].proxy)
    #expect(proxy.hosts.isEmpty && proxy.pathPrefix == nil && proxy.stripPrefix)
    #expect(proxy.https == .off && proxy.httpPort == 80 && proxy.httpsPort == 443)
    #expect(proxy.drain == .seconds(30) && proxy.responseTimeout == .seconds(60))
    #expect(proxy.image == .caddy)
  }

  @Test func everyMistakeAtItsPlace() throws {
    func check(
      _ proxy: String, _ line: Int, _ column: Int, _ text: String, container: String = "",
      sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
      let plan = "app: web\nimage: registry.example.com/acme/web\n\(container)proxy:\n\(proxy)"
      let fixture = try ConfigFixture(["playbooks/web.yml": plan])
      expectDiagnostic(
        fixture.validate(), fixture.path("playbooks/web.yml"), line, column, text,
        sourceLocation: sourceLocation)
    }
    try check("  hosts: [a.example]\n", 4, 3, "missing required key `app_port`")
    try check("  app_port: 70000\n", 4, 13, "`proxy.app_port` must be a port number (1-65535), found 70000")
    try check("  app_port: 8080\n  http_port: 0\n", 5, 14, "`proxy.http_port` must be a port number")
    try check("  app_port: 8080\n  hosts: [shop_example.com]\n", 5, 11, "is not a host name")
    try check("  app_port: 8080\n  hosts: [-bad.example.com]\n", 5, 11, "is not a host name")
    try check("  app_port: 8080\n  path_prefix: api\n", 5, 16, "must start with `/`")
    try check("  app_port: 8080\n  https: on\n", 5, 10, "`on` is not an HTTPS mode")
    try check("  app_port: 8080\n  https: internal\n", 5, 3, "needs `proxy.hosts`")
    try check(
      "  app_port: 8080\n", 4, 3, "`container.ports` and `proxy` do not go together",
      container: "container:\n  ports: [\"8080:8080\"]\n")
  }

  @Test func proxyWithSwarmIsRefused() throws {
    let fixture = try ConfigFixture([
      "inventories/prod.yml": SwarmConfigTests.swarmInventory,
      "playbooks/web.yml": "app: web\nimage: registry.example.com/acme/web\nproxy: {app_port: 3000}\n",
    ])
    expectDiagnostic(
      fixture.validate(), fixture.path("playbooks/web.yml"), 3, 19,
      "`proxy:` does not go with `engine: swarm`")
  }

  @Test func twoPlansClaimingOneRouteOnASharedHostAreRefused() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml":
        "app: web\nimage: registry.example.com/acme/web\nproxy: {app_port: 3000, hosts: [shop.example.com]}\n",
      "playbooks/api.yml":
        "app: api\nimage: registry.example.com/acme/api\nproxy: {app_port: 3000, hosts: [SHOP.example.com]}\n",
    ])
    let validation = fixture.validate()
    #expect(validation.project == nil)
    // The later plan in file order (api.yml is read first, web.yml second) is the one refused,
    // once per environment where they share hosts.
    let refusals = validation.diagnostics.filter { $0.message.contains("is also claimed by app `api`") }
    #expect(refusals.count == 2, "\(validation.diagnostics.map(\.description))")
    #expect(
      refusals.allSatisfy { $0.location.file == fixture.path("playbooks/web.yml") && $0.location.line == 3 })
    #expect(
      refusals.map(\.message).contains { $0.contains("route shop.example.com/ on host `dev-1` of `dev`") })
  }

  @Test func twoPlansWithDifferentRoutesShareAHost() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": "app: web\nimage: registry.example.com/acme/web\nproxy: {app_port: 3000}\n",
      "playbooks/api.yml":
        "app: api\nimage: registry.example.com/acme/api\nproxy: {app_port: 3000, path_prefix: /api}\n",
    ])
    let validation = fixture.validate()
    #expect(validation.project != nil, "\(validation.diagnostics.map(\.description))")
  }
}
