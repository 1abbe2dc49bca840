import Foundation
import TestSupport
import Testing

/// The testbed itself: what end-to-end tests rely on holds (TESTBED.md, README "Testbed").
@Suite("Testbed", .enabled(if: Testbed.isAvailable))
struct TestbedTests {
  @Test("ssh with strict host key checking reaches each host's own engine")
  func sshReachesEveryEngine() async throws {
    try await Testbed.use { testbed in
      #expect(testbed.hosts.count >= 3)
      for host in testbed.hosts {
        // dockerd names itself after the host's own UTS namespace: this is that host's engine.
        let output = try await testbed.sshChecked(
          host, "hostname && docker info --format '{{.Name}}' && docker ps --format '{{.ID}}'")
        let lines = output.split(separator: "\n").map(String.init)
        // A swarm whose nodes share one host name (TESTBED_SWARM_SAME_HOSTNAME) names them
        // ENV-node; every other host is named after itself.
        let name =
          Testbed.sameHostnameEnvironments.contains(host.environment) ? "\(host.environment)-node" : host.name
        #expect(Array(lines.prefix(2)) == [name, name], "on \(host)")
      }
    }
  }

  @Test("the registry lists every test image and tag")
  func registryListsTestImages() async throws {
    try await Testbed.use { testbed in
      let catalog = try await curl("http://\(testbed.registry)/v2/_catalog")
      #expect(catalog.status == 200)
      #expect(catalog.body.contains("\"app\""))
      let tags = try await curl("http://\(testbed.registry)/v2/app/tags/list")
      let listed = try JSONDecoder().decode(TagList.self, from: Data(tags.body.utf8))
      // Tests may add tags of their own (the promote test moves one): the test images must
      // all be there.
      #expect(Set(["v1", "v2", "v3", "broken", "crash", "slow"]).isSubset(of: listed.tags))
      #expect(Set(testbed.tags).isSubset(of: listed.tags))
    }
  }

  @Test("the proxy image runs Caddy, which takes a JSON configuration through its admin API")
  func proxyImageRunsCaddy() async throws {
    try await Testbed.use { testbed in
      let host = testbed.hosts[0]
      let proxyImage = try #require(testbed.proxyImage)
      let name = "testbed-caddy-\(UUID().uuidString.prefix(8).lowercased())"
      let url = "http://\(host.address):18081/"
      try await testbed.sshChecked(host, "docker run -d --name \(name) -p 18081:80 \(proxyImage)")
      do {
        #expect(try await eventually { try await curl(url).body.contains("Caddy works") })
        let config = #"""
          {"apps": {"http": {"servers": {"s": {"listen": [":80"], "routes": [
            {"handle": [{"handler": "static_response", "body": "reloaded"}]}]}}}}}
          """#
        try await testbed.sshChecked(
          host, "docker exec -i \(name) caddy reload --config /dev/stdin", input: Data(config.utf8))
        #expect(try await curl(url).body == "reloaded")
        // The official image's paths and tools (Alpine's sh, wget, cat) are there.
        let inside = try await testbed.sshChecked(
          host,
          "docker exec \(name) sh -c 'echo $XDG_CONFIG_HOME $XDG_DATA_HOME; wget -qO- localhost:2019/config/'"
        )
        #expect(inside.hasPrefix("/config /data\n"), "\(inside)")
        #expect(inside.contains("static_response"), "\(inside)")
        try await testbed.sshChecked(host, "docker rm -f \(name)")
      } catch {
        // The test's own failure is the one to report.
        _ = try? await testbed.ssh(host, "docker rm -f \(name)")
        throw error
      }
    }
  }

  @Test("the second registry wants docker login, which works with the written password")
  func authRegistryNeedsLogin() async throws {
    try await Testbed.use { testbed in
      let anonymous = try await curl("http://\(testbed.authRegistry)/v2/_catalog")
      #expect(anonymous.status == 401)
      let host = testbed.hosts[0]
      let ref = "\(testbed.authRegistry)/app:v1"
      let refused = try await testbed.ssh(
        host, "docker logout \(testbed.authRegistry) >/dev/null; docker pull -q \(ref)")
      #expect(refused.status != 0)
      #expect(refused.stderr.contains("no basic auth credentials"), "\(refused.stderr)")
      let password = try Data(contentsOf: URL(fileURLWithPath: testbed.authPasswordFile))
      try await testbed.sshChecked(
        host, "docker login -u \(testbed.authUser) --password-stdin \(testbed.authRegistry)", input: password)
      let pulled = try await testbed.sshChecked(
        host,
        "docker pull -q \(ref) && docker rmi -f \(ref) >/dev/null; docker logout \(testbed.authRegistry)")
      #expect(pulled.contains(ref))
    }
  }

  @Test("a volume and /var/lib/deployctl written on one host are not seen on another")
  func filesStayOnTheirHost() async throws {
    try await Testbed.use { testbed in
      let writer = testbed.hosts[0]
      let others = testbed.hosts.dropFirst()
      let folder = "/srv/testbed-\(UUID().uuidString.prefix(8).lowercased())"
      try await testbed.sshChecked(
        writer,
        "docker run --rm -v \(folder):/data \(testbed.ref("v1")) sh -c 'echo written > /data/file'"
          + " && echo mine > /var/lib/deployctl/probe")
      #expect(try await testbed.sshChecked(writer, "cat \(folder)/file") == "written\n")
      for host in others {
        let seen = try await testbed.ssh(host, "ls \(folder)/file /var/lib/deployctl/probe")
        #expect(seen.status != 0, "\(host) sees files written on \(writer): \(seen.stdout)")
      }
      #expect(!FileManager.default.fileExists(atPath: "\(folder)/file"), "the root namespace sees \(folder)")
      try await testbed.sshChecked(
        writer,
        "docker run --rm -v /srv:/srv \(testbed.ref("v1")) rm -rf \(folder) && rm /var/lib/deployctl/probe")
    }
  }

  @Test("test images serve /healthz and /version, honour PORT, stop on SIGTERM, crash and break")
  func testImagesBehave() async throws {
    try await Testbed.use { testbed in
      let host = testbed.hosts[testbed.hosts.count - 1]
      let prefix = "testbed-\(UUID().uuidString.prefix(8).lowercased())"
      func run(_ tag: String, _ port: Int, _ options: String = "") async throws {
        try await testbed.sshChecked(
          host, "docker run -d --name \(prefix)-\(tag) -p \(port):8080 \(options) \(testbed.ref(tag))")
      }
      do {
        try await run("v2", 18081)
        try await testbed.sshChecked(
          host, "docker run -d --name \(prefix)-port -e PORT=9000 -p 18082:9000 \(testbed.ref("v3"))")
        try await run("broken", 18083)
        try await run("slow", 18084)
        try await testbed.sshChecked(
          host, "docker run --name \(prefix)-crash \(testbed.ref("crash")) || true")

        let base = "http://\(host.address)"
        #expect(try await eventually { try await curl("\(base):18081/healthz").status == 200 })
        #expect(try await curl("\(base):18081/version").body == "v2")
        #expect(try await eventually { try await curl("\(base):18082/version").body == "v3" })
        #expect(try await eventually { try await curl("\(base):18083/version").body == "broken" })
        #expect(try await curl("\(base):18083/healthz").status == 404)
        #expect(try await eventually { try await curl("\(base):18084/healthz").status == 200 })
        let crashed = try await testbed.sshChecked(
          host, "docker inspect -f '{{.State.ExitCode}}' \(prefix)-crash")
        #expect(crashed == "3\n")
        // Exit code 0 (not 137): the image handled SIGTERM instead of waiting to be killed.
        let stopped = try await testbed.sshChecked(
          host, "docker stop \(prefix)-v2 >/dev/null && docker inspect -f '{{.State.ExitCode}}' \(prefix)-v2")
        #expect(stopped == "0\n")
      } catch {
        _ = try? await testbed.ssh(host, "docker rm -f $(docker ps -aq --filter name=\(prefix))")
        throw error
      }
      try await testbed.sshChecked(host, "docker rm -f $(docker ps -aq --filter name=\(prefix)) >/dev/null")
    }
  }

  @Test("rekey makes OpenSSH refuse the host; restore-key lets it in again")
  func rekeyMakesOpenSSHRefuse() async throws {
    try await Testbed.use { testbed in
      let host = testbed.hosts[testbed.hosts.count - 1]
      try await testbed.rekey(host)
      let refused: ProgramResult
      do {
        refused = try await testbed.ssh(host, "true")
      } catch {
        try await testbed.restoreKey(host)
        throw error
      }
      try await testbed.restoreKey(host)
      #expect(refused.status == 255)
      #expect(refused.stderr.contains("Host key verification failed"), "\(refused.stderr)")
      #expect(try await testbed.ssh(host, "true").status == 0)
    }
  }

  @Test("cut, stop-sshd, stop-engine and stop-registry take a piece away; their pairs bring it back")
  func faultsComeAndGo() async throws {
    try await Testbed.use { testbed in
      let host = testbed.hosts[0]

      try await testbed.cut(host)
      let cut = try await testbed.ssh(host, "true", connectTimeout: 2)
      try await testbed.heal(host)
      #expect(cut.status == 255)
      #expect(cut.stderr.contains("timed out"), "\(cut.stderr)")
      let healed = try await testbed.ssh(host, "true")
      #expect(healed.status == 0, "\(healed.stderr)")

      try await testbed.stopSSHD(host)
      let refused = try await testbed.ssh(host, "true")
      try await testbed.startSSHD(host)
      #expect(refused.stderr.contains("Connection refused"), "\(refused.stderr)")
      #expect(try await testbed.ssh(host, "true").status == 0)

      try await testbed.stopEngine(host)
      let noEngine = try await testbed.ssh(host, "docker ps")
      try await testbed.startEngine(host)
      #expect(noEngine.status != 0)
      #expect(noEngine.stderr.contains("Cannot connect to the Docker daemon"), "\(noEngine.stderr)")
      #expect(try await testbed.ssh(host, "docker ps").status == 0)

      try await testbed.stopRegistry()
      let noRegistry = try await curl("http://\(testbed.registry)/v2/")
      try await testbed.startRegistry()
      #expect(noRegistry.status == 0)
      #expect(try await curl("http://\(testbed.registry)/v2/").status == 200)
    }
  }
}

private struct TagList: Decodable {
  let tags: [String]
}

/// HTTP status (0 when nothing answered) and body, fetched with curl from the root namespace.
private func curl(_ url: String) async throws -> (status: Int, body: String) {
  let output = try await Testbed.run(
    "/usr/bin/curl", ["-s", "--max-time", "3", "-w", "\n%{http_code}", url])
  let body = output.stdout
  guard let newline = body.lastIndex(of: "\n") else { return (0, "") }
  return (Int(body[body.index(after: newline)...]) ?? 0, String(body[..<newline]))
}

/// Retries `check` every 200 ms for up to `seconds` (bounded), for things that take a moment.
private func eventually(seconds: Int = 15, _ check: () async throws -> Bool) async throws -> Bool {
  let deadline = ContinuousClock.now + .seconds(seconds)
  while ContinuousClock.now < deadline {
    if try await check() { return true }
    try await Task.sleep(for: .milliseconds(200))
  }
  return try await check()
}
