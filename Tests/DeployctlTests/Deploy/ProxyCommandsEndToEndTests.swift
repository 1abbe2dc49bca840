import DeployEngine
import Foundation
import Testing

/// `maintenance`, `proxy status`, `proxy reboot` and `status` of a plan with `proxy:`, run as a
/// user runs them against the testbed's prod hosts, each with its real Caddy proxy; what they
/// do is checked with requests to each host's proxy port from this machine.
@Suite(.serialized) struct ProxyCommandsEndToEndTests {
  static let proxyImage: String? = Testbed.isAvailable ? (try? Testbed.load())?.proxyImage : nil

  /// A plan behind the proxy, under `/<app>` so it never meets another test's route on a host.
  static func writeProxiedPlan(_ scenario: Scenario, proxyImage: String) throws {
    let plan = """
      app: \(scenario.app)
      image: \(scenario.testbed.image)
      container:
        stop_timeout: 5s
      proxy:
        app_port: 8080
        path_prefix: /\(scenario.app)
        image: \(proxyImage)
        drain: 2s
      health:
        http: {port: 8080, path: /healthz, expect: 200}
        interval: 500ms
        timeout: 1s
        retries: 6
        start_period: 1s
      rollout:
        batch: 1
      rollback:
        keep: 3

      """
    try plan.write(toFile: scenario.playbooks + "/\(scenario.app).yml", atomically: true, encoding: .utf8)
    // A second app, published the old way, for the refusals.
    let plain = """
      app: \(scenario.app)p
      image: \(scenario.testbed.image)
      container:
        ports: ["\(scenario.port):8080"]

      """
    try plain.write(toFile: scenario.playbooks + "/\(scenario.app)p.yml", atomically: true, encoding: .utf8)
  }

  /// The app's route goes with it; a proxy left with no route at all is removed (it was this
  /// test's), its folder too.
  static func removeRoutes(_ scenario: Scenario) async {
    for host in scenario.hosts("prod") {
      _ = try? await scenario.testbed.ssh(
        host,
        "rm -f /var/lib/deployctl/.proxy/routes/\(scenario.app)@prod.json; "
          + "if [ -z \"$(ls /var/lib/deployctl/.proxy/routes 2>/dev/null)\" ]; then "
          + "docker rm -f deployctl-proxy deployctl-proxy-previous >/dev/null 2>&1; "
          + "rm -rf /var/lib/deployctl/.proxy; fi; true")
    }
  }

  /// What the host's proxy answers for `path` under the app's prefix: status and body.
  static func request(_ host: Testbed.Host, _ scenario: Scenario, _ path: String) async throws -> (
    status: Int, body: String
  ) {
    try await RequestLoad.answer("http://\(host.address)/\(scenario.app)\(path)")
  }

  @Test(
    .enabled(if: Testbed.isAvailable),
    .enabled(
      if: proxyImage != nil,
      "the testbed has no proxy image (TESTBED_PROXY_IMAGE in its env): bring it up again with scripts/testbed up"
    ))
  func maintenanceProxyStatusAndRebootAsAUserSeesThem() async throws {
    try await Scenario.with { s in
      let proxyImage = try #require(s.testbed.proxyImage)
      try Self.writeProxiedPlan(s, proxyImage: proxyImage)
      do {
        try await run(s, proxyImage: proxyImage)
      } catch {
        await Self.removeRoutes(s)
        throw error
      }
      await Self.removeRoutes(s)
    }
  }

  private func run(_ s: Scenario, proxyImage: String) async throws {
    let app = ["--app", s.app]
    let hosts = s.hosts("prod")
    try #require(hosts.count >= 2)

    // Refused before any host: a plan without `proxy:`, and an app never deployed behind it.
    let plain = try await s.deployctl(["maintenance", "prod", "on", "--app", s.app + "p"])
    #expect(plain.status == 2)
    #expect(plain.stderr.contains("has no `proxy:`"))
    let reboot = try await s.deployctl(["proxy", "reboot", "prod", "--app", s.app + "p"])
    #expect(reboot.status == 2)
    #expect(reboot.stderr.contains("has no `proxy:`"))
    let early = try await s.deployctl(["maintenance", "prod", "on"] + app)
    #expect(early.status == 2, "\(early.stderr)")
    #expect(early.stderr.contains("has no route on the proxy of"))

    let deploy = try await s.deployctl(["deploy", "prod", "--image", "v1"] + app)
    try #require(deploy.status == 0, "\(deploy.stderr)")
    let release = try #require(deploy.report.release?.id)
    for host in hosts {
      let answer = try await Self.request(host, s, "/version")
      #expect(answer.status == 200 && answer.body == "v1", "\(host): \(answer)")
    }

    // On: every host's proxy answers 503 with the message; the app keeps running.
    let message = "Back at 14:00 (\(s.app))"
    let on = try await s.deployctl(["maintenance", "prod", "on", "--message", message] + app)
    #expect(on.status == 0, "\(on.stderr)")
    let onReport = try on.document(MaintenanceReport.self)
    #expect(onReport.hosts.map(\.maintenance) == hosts.map { _ in true })
    for host in hosts {
      let answer = try await Self.request(host, s, "/version")
      #expect(answer.status == 503 && answer.body == message, "\(host): \(answer)")
    }

    // status: the route, maintenance and message per host; health probed at the container.
    let status = try await s.deployctl(["status", "prod"] + app)
    #expect(status.status == 0, "\(status.stdout)\n\(status.stderr)")
    let statusReport = try status.document(StatusReport.self)
    for host in statusReport.hosts {
      #expect(host.health == "healthy")
      #expect(host.proxy?.running == true)
      #expect(host.proxy?.maintenance == true)
      #expect(host.proxy?.maintenanceMessage == message)
      #expect(host.proxy?.release == release)
      #expect(host.proxy?.container == "\(s.app)-\(release)")
    }

    // proxy status: the proxy and this app's route on each host, maintenance included.
    let proxyStatus = try await s.deployctl(["proxy", "status", "prod"])
    #expect(proxyStatus.status == 0, "\(proxyStatus.stderr)")
    let proxyReport = try proxyStatus.document(ProxyReport.self)
    #expect(proxyReport.hosts.map(\.name) == hosts.map(\.name))
    for host in proxyReport.hosts {
      #expect(host.running && host.image == proxyImage && host.ports.contains("80:80"), "\(host)")
      let route = try #require(host.routes.first { $0.app == s.app }, "\(host.name): \(host.routes)")
      #expect(route.environment == "prod" && route.pathPrefix == "/\(s.app)" && route.release == release)
      #expect(route.maintenance && route.maintenanceMessage == message)
    }
    let proxyText = try await s.deployctl(["proxy", "status", "prod"], json: false)
    #expect(proxyText.stdout.contains("\(s.app)@prod"))
    #expect(proxyText.stdout.contains("maintenance: \(message)"))

    // A deploy meanwhile keeps maintenance on: the new release is routed behind the page.
    let v2 = try await s.deployctl(["deploy", "prod", "--image", "v2"] + app)
    #expect(v2.status == 0, "\(v2.stderr)")
    for host in hosts {
      let answer = try await Self.request(host, s, "/version")
      #expect(answer.status == 503 && answer.body == message, "\(host) after a deploy: \(answer)")
    }

    // Off: the app answers again, the new release.
    let off = try await s.deployctl(["maintenance", "prod", "off"] + app)
    #expect(off.status == 0, "\(off.stderr)")
    for host in hosts {
      let answer = try await Self.request(host, s, "/version")
      #expect(answer.status == 200 && answer.body == "v2", "\(host): \(answer)")
    }

    // history: both changes, on every host, newest first.
    let history = try await s.deployctl(["history", "prod"] + app).document(HistoryReport.self)
    #expect(history.releases.prefix(3).map(\.how) == ["maintenance-off", "deploy", "maintenance-on"])
    #expect(
      history.releases.prefix(3).allSatisfy { $0.hosts.count == hosts.count && $0.result == "succeeded" })
    let historyText = try await s.deployctl(["history", "prod"] + app, json: false)
    #expect(historyText.stdout.contains("maintenance-on"))

    // Reboot: host by host, each with a short gap it says; the routes are kept.
    let rebooted = try await s.deployctl(["proxy", "reboot", "prod"] + app)
    #expect(rebooted.status == 0, "\(rebooted.stderr)")
    #expect(rebooted.stderr.contains("each host has a short gap"))
    let rebootReport = try rebooted.document(ProxyReport.self)
    #expect(rebootReport.hosts.map(\.result) == hosts.map { _ in "replaced" })
    #expect(rebootReport.hosts.allSatisfy { $0.running && $0.gapMs != nil })
    for host in hosts {
      let answer = try await Self.request(host, s, "/version")
      #expect(answer.status == 200 && answer.body == "v2", "\(host) after reboot: \(answer)")
    }

    // A host that cannot be reached: the others are still shown, and the exit says it.
    let last = try #require(hosts.last)
    try await s.testbed.cut(last)
    let partial: Scenario.Run
    do {
      partial = try await s.deployctl(["proxy", "status", "prod"])
    } catch {
      try await s.testbed.heal(last)
      throw error
    }
    try await s.testbed.heal(last)
    #expect(partial.status == 1, "\(partial.stderr)")
    let partialReport = try partial.document(ProxyReport.self)
    #expect(partialReport.hosts.map(\.reachable) == hosts.map { $0 != last })
    #expect(partialReport.hosts.first?.routes.contains { $0.app == s.app } == true)

    // A new proxy that does not start: the first host gets its old proxy back, the others are
    // left alone, and every host still answers.
    let planFile = s.playbooks + "/\(s.app).yml"
    let good = try String(contentsOfFile: planFile, encoding: .utf8)
    try good.replacingOccurrences(of: "image: \(proxyImage)", with: "image: \(s.testbed.ref("v1"))")
      .write(toFile: planFile, atomically: true, encoding: .utf8)
    let broken = try await s.deployctl(["proxy", "reboot", "prod"] + app)
    try good.write(toFile: planFile, atomically: true, encoding: .utf8)
    #expect(broken.status == 1, "\(broken.stderr)")
    let brokenReport = try broken.document(ProxyReport.self)
    #expect(brokenReport.hosts.map(\.result) == ["failed"] + hosts.dropFirst().map { _ in "skipped" })
    #expect(brokenReport.hosts.first?.error?.contains("the previous proxy container runs again") == true)
    #expect(brokenReport.hosts.first?.image == proxyImage)
    for host in hosts {
      let answer = try await Self.request(host, s, "/version")
      #expect(answer.status == 200 && answer.body == "v2", "\(host) after a failed reboot: \(answer)")
    }
  }
}
