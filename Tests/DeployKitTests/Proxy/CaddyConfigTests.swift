import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine

/// The configuration the host's proxy loads, rendered from the apps' routes (the e2e tests load
/// it into a real Caddy: `ZeroDowntimeTests`); here, what each route becomes.
@Suite struct CaddyConfigTests {
  static func route(
    _ app: String, hosts: [String] = [], prefix: String? = nil, https: ProxySpec.HTTPS = .off,
    maintenance: String? = nil
  ) -> ProxyRoute {
    let plan = ResolvedPlan(
      app: app, environment: "prod",
      host: Host(
        name: "web1", address: "10.0.0.1", user: "deploy", knownHostsFile: "-",
        location: .init(file: "-", line: 1, column: 1)),
      image: try! ImageRepository(parsing: "registry.example.com/\(app)"),
      container: ContainerSpec(name: app),
      health: nil, rollout: RolloutPolicy(), rollback: RollbackPolicy(), file: "-",
      sourceMap: SourceMap(root: .init(file: "-", line: 1, column: 1)))
    let proxy = ProxySpec(appPort: 8080, hosts: hosts, pathPrefix: prefix, https: https)
    return ProxyRoute(
      plan: plan, proxy: proxy, container: "\(app)-r1", release: "r1", maintenance: maintenance)
  }

  static func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }

  static func servers(_ config: [String: Any]) -> [String: [String: Any]] {
    let apps = config["apps"] as? [String: Any]
    let http = apps?["http"] as? [String: Any]
    return http?["servers"] as? [String: [String: Any]] ?? [:]
  }

  @Test func anAppRoutedByHostAndPathGoesToItsContainerAlias() throws {
    let config = try Self.json(
      CaddyConfig.render([Self.route("shop", hosts: ["shop.example.com"], prefix: "/api")]))
    #expect((config["admin"] as? [String: Any])?["listen"] as? String == "localhost:2019")
    let http = try #require(Self.servers(config)["http"])
    #expect(http["listen"] as? [String] == [":80"])
    let routes = try #require(http["routes"] as? [[String: Any]])
    #expect(routes.count == 2)  // the app, then the 404 for what no app takes
    let match = (routes[0]["match"] as? [[String: Any]])?.first
    #expect(match?["host"] as? [String] == ["shop.example.com"])
    #expect(match?["path"] as? [String] == ["/api", "/api/*"])
    let handle = try #require(routes[0]["handle"] as? [[String: Any]])
    #expect(handle.map { $0["handler"] as? String } == ["rewrite", "reverse_proxy"])
    #expect(handle[0]["strip_path_prefix"] as? String == "/api")
    #expect((handle[1]["upstreams"] as? [[String: Any]])?.first?["dial"] as? String == "shop-r1:8080")
    let fallback = try #require((routes[1]["handle"] as? [[String: Any]])?.first)
    #expect(fallback["status_code"] as? Int == 404)
    #expect(Self.servers(config)["https"] == nil)
  }

  @Test func verificationNamesTheAppsFirstHostOnTheProxysPort() {
    #expect(ProxySpec(appPort: 8080).verificationHosts.isEmpty)
    #expect(
      ProxySpec(appPort: 8080, hosts: ["shop.example.com", "www.example.com"], httpPort: 8081)
        .verificationHosts
        == [8081: "shop.example.com"])
    #expect(
      ProxySpec(appPort: 8080, hosts: ["*.example.com"]).verificationHosts == [80: "verify.example.com"])
  }

  @Test func moreSpecificRoutesComeFirst() throws {
    let config = try Self.json(
      CaddyConfig.render([
        Self.route("any"), Self.route("api", prefix: "/api"), Self.route("shop", hosts: ["shop.example.com"]),
      ]))
    let routes = try #require(Self.servers(config)["http"]?["routes"] as? [[String: Any]])
    let ids = routes.compactMap { $0["@id"] as? String }
    #expect(ids == ["deployctl-shop@prod", "deployctl-api@prod", "deployctl-any@prod"])
  }

  @Test func maintenanceAnswers503WithTheMessage() throws {
    let config = try Self.json(CaddyConfig.render([Self.route("shop", maintenance: "Back at 10:00")]))
    let route = try #require((Self.servers(config)["http"]?["routes"] as? [[String: Any]])?.first)
    let handler = try #require((route["handle"] as? [[String: Any]])?.first)
    #expect(handler["handler"] as? String == "static_response")
    #expect(handler["status_code"] as? Int == 503)
    #expect(handler["body"] as? String == "Back at 10:00\n")
  }

  @Test func internalHTTPSServesOn443WithTheLocalCAAndRedirectsPlainHTTP() throws {
    let config = try Self.json(
      CaddyConfig.render([Self.route("shop", hosts: ["shop.test"], https: .internal)]))
    let servers = Self.servers(config)
    let https = try #require(servers["https"])
    #expect(https["listen"] as? [String] == [":443"])
    let redirect = try #require(
      (servers["http"]?["routes"] as? [[String: Any]])?.first?["handle"] as? [[String: Any]])
    #expect(redirect.first?["status_code"] as? Int == 308)
    let tls = (config["apps"] as? [String: Any])?["tls"] as? [String: Any]
    let policy = ((tls?["automation"] as? [String: Any])?["policies"] as? [[String: Any]])?.first
    #expect(policy?["subjects"] as? [String] == ["shop.test"])
    #expect((policy?["issuers"] as? [[String: Any]])?.first?["module"] as? String == "internal")
  }

  @Test func acmeHTTPSNamesItsHostsWithTheDefaultIssuers() throws {
    let config = try Self.json(
      CaddyConfig.render([Self.route("shop", hosts: ["shop.example.com"], https: .auto)]))
    let tls = (config["apps"] as? [String: Any])?["tls"] as? [String: Any]
    let policy = ((tls?["automation"] as? [String: Any])?["policies"] as? [[String: Any]])?.first
    #expect(policy?["subjects"] as? [String] == ["shop.example.com"])
    #expect(policy?["issuers"] == nil)
  }

  @Test func routesAreReadBackAsWrittenAndClaimsConflict() throws {
    let shop = Self.route("shop", hosts: ["shop.example.com"])
    let output = "generation 7\n" + HostStateJSON.line(shop) + "\nnot json\n"
    let routes = ProxyRoutes.parse(output)
    #expect(routes.generation == 7)
    #expect(routes.routes == [shop])
    #expect(routes.unreadable.count == 1)
    let rival = Self.route("other", hosts: ["SHOP.example.com"])
    #expect(routes.conflict(with: rival)?.claim == "shop.example.com/")
    #expect(routes.conflict(with: Self.route("other", hosts: ["shop.example.com"], prefix: "/api")) == nil)
    #expect(routes.replacing(app: "shop", environment: "prod", with: nil).isEmpty)
  }

  @Test func aRetiredUpstreamStaysListedAfterTheNewOneAndIsNeverChosen() throws {
    let route = Self.route("shop")
    let config = try Self.json(CaddyConfig.render([route], retiring: [route.key: "shop-r0:8080"]))
    let routes = try #require(Self.servers(config)["http"]?["routes"] as? [[String: Any]])
    let handle = try #require(routes.first?["handle"] as? [[String: Any]])
    let proxy = try #require(handle.first { $0["handler"] as? String == "reverse_proxy" })
    #expect(
      proxy["upstreams"] as? [[String: String]] == [["dial": "shop-r1:8080"], ["dial": "shop-r0:8080"]])
    let balancing = try #require(proxy["load_balancing"] as? [String: Any])
    #expect(balancing["selection_policy"] as? [String: String] == ["policy": "first"])
    // Only that change's configuration lists it: the next one renders the app's own upstream alone.
    #expect(!CaddyConfig.render([route]).contains("shop-r0"))
  }

  @Test func inFlightIsReadFromTheAdminAPI() {
    let output =
      #"[{"address":"shop-r1:8080","num_requests":2,"fails":0},{"address":"x:1","num_requests":0,"fails":0}]"#
    #expect(ProxyScripts.inFlight("shop-r1:8080", in: output) == 2)
    // Not listed: the proxy no longer counts it, so nothing can be told.
    #expect(ProxyScripts.inFlight("gone:8080", in: output) == nil)
    #expect(ProxyScripts.inFlight("shop-r1:8080", in: "sh: wget: not found") == nil)
  }
}
