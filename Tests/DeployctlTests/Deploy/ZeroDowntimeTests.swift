import DeployConfig
import DeployEngine
import DeployKit
import Foundation
import TestSupport
import Testing

/// Blue-green deploys behind each host's proxy, end to end: the real binary, the testbed's hosts,
/// a real Caddy in `deployctl-proxy` (the testbed's image, built from Debian's package), and a
/// request loop run by the test against every host's proxy port while deployctl works. Every
/// assertion is about what a client of the app saw.
@Suite("Zero downtime behind the proxy", .enabled(if: Testbed.isAvailable))
struct ZeroDowntimeTests {
  /// A scenario whose plan has `proxy:` (no `ports:`), with the proxy removed from the lane's
  /// hosts afterwards (the lane is the test's alone while it runs).
  static func with<T: Sendable>(
    _ extra: String = "", health: String = "http: {port: 8080, path: /healthz}", drain: String = "5s",
    _ body: (Scenario) async throws -> T
  ) async throws -> T {
    try await Testbed.use { testbed in
      do {
        let value = try await Scenario.with(on: testbed) { s in
          try plan(s, extra: extra, health: health, drain: drain).write(
            toFile: s.playbooks + "/\(s.app).yml", atomically: true, encoding: .utf8)
          return try await body(s)
        }
        await removeProxies(testbed)
        return value
      } catch {
        await removeProxies(testbed)
        throw error
      }
    }
  }

  static func plan(_ s: Scenario, extra: String = "", health: String, drain: String = "5s") -> String {
    """
    app: \(s.app)
    image: \(s.testbed.image)
    container:
      volumes: ["/srv/\(s.app)/data:/data"]
      stop_timeout: 5s
    proxy:
      app_port: 8080
      image: \(s.testbed.caddyImage)
      drain: \(drain)
    \(extra)
    health:
      \(health)
      interval: 500ms
      timeout: 1s
      retries: 6
      start_period: 1s
    rollback:
      auto: true
      keep: 5

    """
  }

  static func removeProxies(_ testbed: Testbed) async {
    for host in testbed.hosts {
      _ = try? await testbed.ssh(
        host, "docker rm -f deployctl-proxy >/dev/null 2>&1; rm -rf /var/lib/deployctl/.proxy; true")
    }
  }

  static func url(_ host: Testbed.Host, _ path: String = "/version") -> String {
    "http://\(host.address):80\(path)"
  }

  @Test(
    "deploy, failed deploy, rollback and promote on 2 hosts: no request fails, the broken release answers none"
  )
  func noRequestFails() async throws {
    try await Self.with { s in
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
      #expect(try await s.deployctl(["deploy", "staging", "--image", "v2"]).status == 0)
      let urls = s.hosts("prod").map { Self.url($0) }
      var seen: [String: Int] = [:]

      let (deployed, load1) = try await RequestLoad.during(urls) {
        try await s.deployctl(["deploy", "prod", "--image", "v3"])
      }
      #expect(deployed.status == 0, "\(deployed.stderr)")
      #expect(load1.failures == 0, "\(load1)")
      #expect(load1.bodies["v3"] ?? 0 > 0, "\(load1)")

      let (failed, load2) = try await RequestLoad.during(urls) {
        try await s.deployctl(["deploy", "prod", "--image", "broken"])
      }
      #expect(failed.status == 1, "\(failed.stderr)")
      #expect(load2.failures == 0, "\(load2)")
      #expect(load2.bodies.keys.sorted() == ["v3"], "the broken release must never answer: \(load2)")

      let (rolledBack, load3) = try await RequestLoad.during(urls) {
        try await s.deployctl(["rollback", "prod"])
      }
      #expect(rolledBack.status == 0, "\(rolledBack.stderr)")
      #expect(load3.failures == 0, "\(load3)")
      #expect(load3.bodies["v1"] ?? 0 > 0, "\(load3)")

      let (promoted, load4) = try await RequestLoad.during(urls) {
        try await s.deployctl(["promote", "staging", "prod"])
      }
      #expect(promoted.status == 0, "\(promoted.stderr)")
      #expect(load4.failures == 0, "\(load4)")
      for load in [load1, load2, load3, load4] { seen.merge(load.bodies, uniquingKeysWith: +) }
      #expect(seen["broken"] == nil)
      for host in s.hosts("prod") {
        #expect(try await RequestLoad.get(Self.url(host)) == "v2")
        // Queued connections move to the new listener at every switch (ProxyScripts.run).
        let migrate = try await s.testbed.sshChecked(
          host, "docker exec deployctl-proxy cat /proc/sys/net/ipv4/tcp_migrate_req")
        #expect(migrate.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        // The release before is kept stopped for a quick rollback; nothing else is left.
        let containers = try await s.testbed.sshChecked(
          host, "docker ps -a --filter label=deployctl.app=\(s.app) --format '{{.Names}} {{.State}}'")
        let running = containers.split(separator: "\n").filter { $0.hasSuffix(" running") }
        #expect(running == ["\(s.app) running"], "\(containers)")
      }
    }
  }

  @Test("a request in flight when the route switches ends on the old release before it stops")
  func inFlightRequestFinishes() async throws {
    // Drain up to 30 s: the slow request (10 s) must be what ends the drain, not the limit.
    try await Self.with(drain: "30s") { s in
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
      let url = Self.url(s.hosts("prod")[0], "/cgi-bin/slow?10")
      async let slow = HTTPProbe(url: url, expectStatus: 200, timeout: .seconds(40)).run()
      try await Task.sleep(for: .milliseconds(500))
      let deployed = try await s.deployctl(["deploy", "prod", "--image", "v2"])
      let answer = try await slow
      let answered = Date()
      #expect(deployed.status == 0, "\(deployed.stderr)")
      #expect(answer.healthy, "the request in flight failed: \(answer.reason)")
      #expect(answer.body.contains("slow v1"), "\(answer.body)")
      // It was in flight when the route moved, and the old container stopped only after it.
      let switched = try #require(Self.stepTime(deployed.stderr, "switch route ok"))
      #expect(switched < answered, "\(deployed.stderr)")
      #expect(try await RequestLoad.get(Self.url(s.hosts("prod")[0])) == "v2")
    }
  }

  /// When the first line of `log` with `step` was written (deployctl's progress timestamps).
  static func stepTime(_ log: String, _ step: String) -> Date? {
    guard let line = log.split(separator: "\n").first(where: { $0.contains(step) }) else { return nil }
    return DeliveryStats.parseTime(String(line.prefix { $0 != " " }))
  }

  @Test("verification through the proxy fails after the switch: every host goes back with no failed request")
  func failedVerificationGoesBack() async throws {
    try await Self.with("verify:\n  smoke: [{port: 80, path: /version, contains: v1}]") { s in
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
      let urls = s.hosts("prod").map { Self.url($0) }
      let (failed, load) = try await RequestLoad.during(urls) {
        try await s.deployctl(["deploy", "prod", "--image", "v2"])
      }
      #expect(failed.status == 1, "\(failed.stderr)")
      #expect(try failed.hosts.allSatisfy { $0.result == .rolledBack }, "\(failed.stdout)")
      #expect(load.failures == 0, "\(load)")
      for host in s.hosts("prod") {
        #expect(try await RequestLoad.get(Self.url(host)) == "v1")
      }
    }
  }

  @Test("an app with proxy hosts: verification through the proxy names the app's host, as a browser would")
  func verificationSendsTheAppsHostName() async throws {
    let name = "shop.deployctl.test"
    let extra = """
        hosts: [\(name)]
      verify:
        smoke: [{port: 80, path: /version, contains: v1}]
        load: {port: 80, path: /version, requests: 60, concurrency: 3, max_error_rate: 0%}
      """
    try await Self.with(extra) { s in
      let deployed = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      #expect(deployed.status == 0, "\(deployed.stderr)")
      let verification = try #require(try deployed.report.verification)
      #expect(verification.passed, "\(deployed.stderr)")
      for host in verification.hosts {
        #expect(host.smoke.map(\.status) == [200], "\(host)")
        #expect(host.load?.figures.requests == 60 && host.load?.figures.errors == 0, "\(host)")
      }
      for host in s.hosts("prod") {
        // Without the name the proxy routes nothing here: what the checks would have met.
        #expect(try await RequestLoad.answer(Self.url(host)).status == 404, "\(host)")
        #expect(try await RequestLoad.get(Self.url(host), hostName: name) == "v1", "\(host)")
      }
    }
  }

  @Test("a crashing release on a slow start: still no failed request, and the old container serves")
  func crashBehindTheProxy() async throws {
    try await Self.with { s in
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
      let urls = s.hosts("prod").map { Self.url($0) }
      let (failed, load) = try await RequestLoad.during(urls) {
        try await s.deployctl(["deploy", "prod", "--image", "crash"])
      }
      #expect(failed.status == 1)
      #expect(load.failures == 0, "\(load)")
      #expect(load.bodies.keys.sorted() == ["v1"], "\(load)")
    }
  }

  @Test("two apps on one host's proxy, by path prefix; validate refuses two apps on one route")
  func twoAppsShareAProxy() async throws {
    try await Self.with { s in
      #expect(try await s.deployctl(["deploy", "dev", "--image", "v1"]).status == 0)
      let other = "\(s.app)b"
      var second = Self.plan(
        s, extra: "  path_prefix: /\(other)", health: "http: {port: 8080, path: /healthz}")
      second = second.replacingOccurrences(of: "app: \(s.app)\n", with: "app: \(other)\n")
      second = second.replacingOccurrences(of: "/srv/\(s.app)/", with: "/srv/\(other)/")
      try second.write(toFile: s.playbooks + "/\(other).yml", atomically: true, encoding: .utf8)
      defer {
        Task {
          for host in s.testbed.hosts {
            _ = try? await s.testbed.ssh(
              host,
              "docker rm -f $(docker ps -aq --filter label=deployctl.app=\(other)) >/dev/null 2>&1; rm -rf /var/lib/deployctl/\(other); true"
            )
          }
        }
      }
      let deployed = try await s.deployctl(["deploy", "dev", "--image", "v2", "--app", other])
      #expect(deployed.status == 0, "\(deployed.stderr)")
      let host = try #require(s.hosts("dev").first)
      #expect(try await RequestLoad.get(Self.url(host)) == "v1")
      // The prefix is taken off before the request reaches the app, as kamal-proxy does.
      #expect(try await RequestLoad.get(Self.url(host, "/\(other)/version")) == "v2")

      try second.replacingOccurrences(of: "  path_prefix: /\(other)\n", with: "\n").write(
        toFile: s.playbooks + "/\(other).yml", atomically: true, encoding: .utf8)
      let refused = try await s.deployctl(["validate"])
      #expect(refused.status == 2)
      #expect(
        refused.stdout.contains("is also claimed by app") || refused.stderr.contains("is also claimed by app")
      )
    }
  }

  @Test("https: internal serves the app on 443 with a certificate from the proxy's own CA")
  func internalHTTPS() async throws {
    try await Self.with("  hosts: [shop.test]\n  https: internal") { s in
      let deployed = try await s.deployctl(["deploy", "dev", "--image", "v2"])
      #expect(deployed.status == 0, "\(deployed.stderr)")
      let host = try #require(s.hosts("dev").first)
      // The local CA's root, from the proxy's data volume, is what a client must trust.
      let root = try await s.testbed.sshChecked(
        host, "docker exec deployctl-proxy cat /data/caddy/pki/authorities/local/root.crt")
      let ca = s.dir.appendingPathComponent("root.crt")
      try root.write(to: ca, atomically: true, encoding: .utf8)
      var body = ""
      let deadline = ContinuousClock.now + .seconds(30)
      // The certificate is issued on the first handshakes after the load: asked again a few times.
      repeat {
        let curl = try await runCapturing(
          "/usr/bin/curl",
          [
            "-sS", "--max-time", "5", "--cacert", ca.path, "--resolve", "shop.test:443:\(host.address)",
            "https://shop.test/version",
          ])
        body = curl.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if curl.status == 0 { break }
        try await Task.sleep(for: .milliseconds(500))
      } while ContinuousClock.now < deadline
      #expect(body == "v2")
      // Plain HTTP for that name is sent to HTTPS.
      let plain = try await runCapturing(
        "/usr/bin/curl",
        [
          "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-H", "Host: shop.test",
          "http://\(host.address)/version",
        ])
      #expect(plain.stdout == "308 https://shop.test/version", "\(plain.stdout) \(plain.stderr)")
    }
  }

  @Test("an app moves from its own port 80 to the proxy (this one deploy has a gap) and back")
  func movesToTheProxyAndBack() async throws {
    try await Self.with { s in
      let proxied = try String(contentsOfFile: s.playbooks + "/\(s.app).yml", encoding: .utf8)
      let published = Self.plan(s, health: "http: {port: 80, path: /healthz}")
        .replacingOccurrences(of: "container:\n", with: "container:\n  ports: [\"80:8080\"]\n")
        .replacingOccurrences(
          of: "proxy:\n  app_port: 8080\n  image: \(s.testbed.caddyImage)\n  drain: 5s\n", with: "")
      try published.write(toFile: s.playbooks + "/\(s.app).yml", atomically: true, encoding: .utf8)
      let first = try await s.deployctl(["deploy", "dev", "--image", "v1"])
      #expect(first.status == 0, "\(first.stderr)")
      let host = try #require(s.hosts("dev").first)
      #expect(try await RequestLoad.get(Self.url(host)) == "v1")

      try proxied.write(toFile: s.playbooks + "/\(s.app).yml", atomically: true, encoding: .utf8)
      let moved = try await s.deployctl(["deploy", "dev", "--image", "v2"])
      #expect(moved.status == 0, "\(moved.stderr)")
      #expect(moved.stderr.contains("this one deploy has a gap"), "\(moved.stderr)")
      #expect(try await RequestLoad.get(Self.url(host)) == "v2")

      let back = published.replacingOccurrences(of: "\"80:8080\"", with: "\"\(s.port):8080\"")
        .replacingOccurrences(of: "port: 80, path", with: "port: \(s.port), path")
      try back.write(toFile: s.playbooks + "/\(s.app).yml", atomically: true, encoding: .utf8)
      let returned = try await s.deployctl(["deploy", "dev", "--image", "v3"])
      #expect(returned.status == 0, "\(returned.stderr)")
      #expect(try await s.version(on: host) == "v3")
      // The app's route left the proxy, which stays for other apps.
      let answer = try await runCapturing("/usr/bin/curl", ["-s", Self.url(host)])
      #expect(answer.stdout.contains("no app is routed here"), "\(answer.stdout)")
    }
  }

  @Test("routes survive a restart of the host's Docker engine")
  func routesSurviveAnEngineRestart() async throws {
    try await Self.with { s in
      #expect(try await s.deployctl(["deploy", "dev", "--image", "v2"]).status == 0)
      let host = try #require(s.hosts("dev").first)
      try await s.testbed.stopEngine(host)
      try await s.testbed.startEngine(host)
      // The engine restarts the proxy and the app (restart policies); routes come from the
      // proxy's folder on the host.
      #expect(try await RequestLoad.eventually(Self.url(host)) == "v2")
    }
  }

  @Test("SIGINT in the middle of a proxied deploy: no request fails, the old release serves on")
  func interruptedDeploy() async throws {
    try await Self.with(health: "http: {port: 8080, path: /healthz}") { s in
      #expect(try await s.deployctl(["deploy", "dev", "--image", "v1"]).status == 0)
      let host = try #require(s.hosts("dev").first)
      let (run, load) = try await RequestLoad.during([Self.url(host)]) {
        let process = try await s.start(["deploy", "dev", "--image", "slow"])
        try await process.waitForOutput(" health …")
        process.signal(SIGINT)
        return try await process.finish()
      }
      #expect(run.status == 130 || run.status == 1, "\(run.stderr)")
      #expect(load.failures == 0, "\(load)")
      #expect(load.bodies.keys.sorted() == ["v1"], "\(load)")
      let left = try await s.testbed.sshChecked(
        host, "docker ps --filter label=deployctl.app=\(s.app) --format '{{.Names}}'")
      #expect(left.trimmingCharacters(in: .whitespacesAndNewlines) == s.app, "\(left)")
    }
  }

  @Test("kill -9 in the middle of a proxied deploy: the old release serves on, the next run cleans up")
  func killedDeploy() async throws {
    try await Self.with { s in
      #expect(try await s.deployctl(["deploy", "dev", "--image", "v1"]).status == 0)
      let host = try #require(s.hosts("dev").first)
      let (run, load) = try await RequestLoad.during([Self.url(host)]) {
        let process = try await s.start(["deploy", "dev", "--image", "slow"])
        try await process.waitForOutput(" health …")
        process.signal(SIGKILL)
        return try await process.finish()
      }
      #expect(run.status != 0)
      #expect(load.failures == 0, "\(load)")
      #expect(load.bodies.keys.sorted() == ["v1"], "\(load)")
      // The killed run's lock is still held: the next run takes it over once its lease ends;
      // here it is released by hand, as an operator would.
      #expect(try await s.deployctl(["lock", "dev", "release", "--force"]).status == 0)
      let (next, load2) = try await RequestLoad.during([Self.url(host)]) {
        try await s.deployctl(["deploy", "dev", "--image", "v2"])
      }
      #expect(next.status == 0, "\(next.stderr)")
      #expect(next.stderr.contains("never switched to"), "\(next.stderr)")
      #expect(load2.failures == 0, "\(load2)")
      let running = try await s.testbed.sshChecked(
        host, "docker ps --filter label=deployctl.app=\(s.app) --format '{{.Names}}'")
      #expect(running.trimmingCharacters(in: .whitespacesAndNewlines) == s.app, "\(running)")
      #expect(try await RequestLoad.get(Self.url(host)) == "v2")
    }
  }
}

/// A request loop run by the test: several workers, each a fresh connection per request
/// (libcurl, as health checks use it), against every URL while `action` runs. A failure is
/// any answer but 200 or no answer at all.
struct RequestLoad: CustomStringConvertible, Sendable {
  var requests = 0
  var failures = 0
  var errors: [String: Int] = [:]
  var bodies: [String: Int] = [:]

  var description: String { "\(requests) requests, \(failures) failed \(errors), bodies \(bodies)" }

  /// What clients saw while `action` ran: `request-loop` (TestSupport `RequestLoop`) sends 50
  /// requests a second to each URL. Any answer but a 200 counts as failed, not only 5xx.
  static func during<T: Sendable>(
    _ urls: [String], _ action: @Sendable () async throws -> T
  ) async throws -> (T, RequestLoad) {
    let (value, report) = try await RequestLoop.around(urls, rate: 50, timeout: .seconds(5), action)
    var load = RequestLoad()
    load.requests = report.total.requests
    load.failures = report.total.requests - (report.total.statuses["200"] ?? 0)
    load.errors = report.total.failuresByKind
    for (status, count) in report.total.statuses where status != "200" {
      load.errors["HTTP \(status)"] = count
    }
    for (body, count) in report.total.bodies {
      load.bodies[body.trimmingCharacters(in: .whitespacesAndNewlines), default: 0] += count
    }
    return (value, load)
  }

  /// One GET; its body, trimmed.
  static func get(_ url: String, hostName: String? = nil) async throws -> String {
    let (status, body) = try await answer(url, hostName: hostName)
    guard status == 200 else { throw TestFailure("GET \(url): HTTP \(status) \(body)") }
    return body
  }

  /// One GET, sending `Host: hostName` when given: its status (0 when none came back) and its
  /// body, trimmed.
  static func answer(_ url: String, hostName: String? = nil) async throws -> (status: Int, body: String) {
    var probe = try HTTPProbe(url: url, timeout: .seconds(5))
    probe.hostHeader = hostName
    let result = try await probe.run()
    return (result.status ?? 0, result.body.trimmingCharacters(in: .whitespacesAndNewlines))
  }

  /// GET until it answers 200 (bounded: 60 s).
  static func eventually(_ url: String) async throws -> String {
    let deadline = ContinuousClock.now + .seconds(60)
    while true {
      if let body = try? await get(url) { return body }  // not up yet: asked again
      guard ContinuousClock.now < deadline else { return try await get(url) }
      try await Task.sleep(for: .milliseconds(250))
    }
  }
}

extension Testbed {
  /// The testbed's Caddy image (`scripts/testbed` builds it from Debian's package;
  /// `Testbed.proxyImage` is nil only for an env file written before it).
  var caddyImage: String { proxyImage ?? "\(registry)/caddy:2" }
}
