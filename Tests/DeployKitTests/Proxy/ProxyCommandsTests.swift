import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit
@testable import DeployTransport

/// What `proxy status`, `proxy reboot` and `maintenance` read from a host's answers, and what
/// they print; the commands themselves run end to end in DeployctlTests ("Proxy commands").
@Suite struct ProxyCommandsTests {
  static let t0 = Date(timeIntervalSince1970: 1_795_281_330)

  @Test func publishedPortsAreReadOnceEach() {
    let lines = ["80/tcp -> 0.0.0.0:8081", "80/tcp -> [::]:8081", "443/tcp -> 0.0.0.0:443", "garbage"]
    #expect(ProxyHostReading.parsePorts(lines) == ["8081:80", "443:443"])
  }

  @Test func theGapIsReadFromTheReplaceOutput() {
    #expect(ProxyScripts.gapMilliseconds("switched\ngap-ms 912\n") == 912)
    #expect(ProxyScripts.gapMilliseconds("no gap here") == nil)
  }

  @Test func theReplaceScriptKeepsTheOldProxyUntilTheNewOneTakesItsRoutes() {
    let script = ProxyScripts.replace(ProxySpec(appPort: 8080, httpPort: 8081), paths: ProxyPaths()).line
    #expect(script.contains("flock -w 60 9"))
    #expect(script.contains("docker rename deployctl-proxy deployctl-proxy-previous"))
    #expect(script.contains("--publish 8081:80"))
    #expect(script.contains("the previous proxy container runs again"))
  }

  @Test func theProxyKeepsQueuedConnectionsAcrossASwitchWhereTheKernelCan() {
    let spec = ProxySpec(appPort: 8080)
    for script in [
      ProxyScripts.replace(spec, paths: ProxyPaths()).line,
      ProxyScripts.ensure(spec, paths: ProxyPaths(), routes: [], login: nil, stateFolder: "/tmp").line,
    ] {
      #expect(
        script.contains(
          "if test -e /proc/sys/net/ipv4/tcp_migrate_req; then docker run --detach --name deployctl-proxy"))
      #expect(script.contains("--sysctl net.ipv4.tcp_migrate_req=1"))
      // A Docker that refuses it, or an older kernel, runs the proxy without it.
      #expect(
        script.contains(
          "--sysctl net.ipv4.tcp_migrate_req=1 --volume deployctl-proxy-data:/data --volume deployctl-proxy-config:/config --volume /var/lib/deployctl/.proxy:/etc/deployctl:ro --log-driver json-file --log-opt max-size=10m --log-opt max-file=3 caddy:2 caddy run --config /etc/deployctl/caddy.json || { docker rm -f deployctl-proxy >/dev/null 2>&1; docker run --detach --name deployctl-proxy"
        ))
      #expect(script.contains("else docker run --detach --name deployctl-proxy"))
    }
  }

  func environment() throws -> EnvironmentPlan {
    let fixture = try ConfigFixture(
      [
        "inventories/prod.yml":
          "environment: prod\nssh:\n  user: deploy\nhosts:\n  h1:\n    address: 10.0.0.1\n",
        "playbooks/web.yml":
          "app: web\nimage: registry.example.com/acme/web\ncontainer:\n  ports: [\"8080:8080\"]\n",
      ], base: false)
    let project = try fixture.load()
    return try project.plan(app: "web").resolved(for: project.inventory(named: "prod"))
  }

  func route(_ app: String, maintenance: String? = nil) throws -> ProxyRoute {
    var route = ProxyRoute(
      plan: try #require(environment().hosts.first), proxy: ProxySpec(appPort: 8080, pathPrefix: "/\(app)"),
      container: "\(app)-r1", release: "r1", maintenance: maintenance, at: Self.t0)
    route.app = app
    return route
  }

  @Test func aRouteShowsItsMaintenance() throws {
    let report = ProxyRouteReport(try route("web", maintenance: "Back soon"))
    #expect(report.maintenance)
    #expect(report.maintenanceMessage == "Back soon")
    #expect(report.pathPrefix == "/web")
    let json = report.jsonString()
    #expect(json.contains("\"maintenance_message\" : \"Back soon\""))
    #expect(json.contains("\"path_prefix\" : \"/web\""))
  }

  @Test func statusWithoutAProxyKeepsItsDocument() throws {
    let plain = HostStatus(
      name: "web1", reachable: true, release: "r1", image: "repo@sha256:x", state: "running",
      health: "healthy")
    #expect(!plain.jsonString().contains("proxy"))
    var proxied = plain
    proxied.proxy = HostProxyStatus(running: true, route: try route("web"))
    let json = proxied.jsonString()
    #expect(json.contains("\"container\" : \"web-r1\""))
    #expect(json.contains("\"maintenance\" : false"))
    #expect(json.contains("\"maintenance_message\" : null"))
  }

  @Test func historyShowsMaintenanceAsARowPerRun() {
    func line(_ at: Double, _ command: AuditCommand, run: String) -> AuditEntry {
      AuditEntry(
        time: Self.t0.addingTimeInterval(at), user: "alice", origin: "laptop", command: command,
        environment: "prod", release: "r1", image: nil, result: .succeeded, run: run)
    }
    let kept = [
      (
        "web1",
        EnvironmentHistory.Kept(
          releases: HostReleases(current: nil, records: [], unreadable: []),
          audit: [line(0, .maintenanceOn, run: "a"), line(60, .maintenanceOff, run: "b")])
      ),
      (
        "web2",
        EnvironmentHistory.Kept(
          releases: HostReleases(current: nil, records: [], unreadable: []),
          audit: [line(1, .maintenanceOn, run: "a"), line(61, .maintenanceOff, run: "b")])
      ),
    ]
    let entries = EnvironmentHistory.merge(kept, environment: "prod")
    #expect(entries.map(\.how) == ["maintenance-off", "maintenance-on"])
    #expect(entries.allSatisfy { $0.release == nil && !$0.live && $0.hosts.count == 2 })
    let table = HistoryTable.text(
      HistoryReport(environment: "prod", app: "web", releases: entries, hosts: []),
      terminal: Terminal(colors: false, write: { _ in }))
    #expect(table.contains("maintenance-on"))
    #expect(table.contains("succeeded 2/2"))
  }

  @Test func aPlanWithoutProxyIsRefusedBeforeAnyHost() throws {
    let plan = try environment()
    #expect(throws: RolloutError.self) { try ProxyMaintenance.check(plan) }
    #expect(throws: RolloutError.self) { try EnvironmentProxy.check(plan) }
  }
}
