import Foundation
import Testing

/// `container:`'s Docker options end to end: the real binary deploys a plan using them to the
/// testbed's real engines, and `docker inspect` on the host shows each one.
@Suite("Container options end to end", .enabled(if: Testbed.isAvailable))
struct ContainerOptionsEndToEndTests {
  /// The scenario's plan with `options` added under `container:` (each line indented by 2).
  static func writePlan(_ s: Scenario, _ options: String) throws {
    let plan = """
      app: \(s.app)
      image: \(s.testbed.image)
      container:
        ports: ["\(s.port):8080"]
        stop_timeout: 5s
      \(options.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
      health:
        http: {port: \(s.port), path: /healthz}
        interval: 500ms
        timeout: 1s
        retries: 6
        start_period: 1s

      """
    try plan.write(toFile: s.playbooks + "/\(s.app).yml", atomically: true, encoding: .utf8)
  }

  static func inspect(_ s: Scenario, _ host: Testbed.Host) async throws -> [String: Any] {
    let text = try await s.testbed.sshChecked(host, "docker inspect \(s.app)")
    let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
    return try #require(array?.first)
  }

  @Test(
    "every option reaches docker run and shows in docker inspect; changing one replaces the container",
    .tags(.long))
  func everyOptionShowsInDockerInspect() async throws {
    let network = "dctest-" + UUID().uuidString.prefix(8).lowercased()
    try await Testbed.use { testbed in
      do {
        try await everyOption(on: testbed, network: network)
      } catch {
        await Self.removeNetwork(network, testbed)
        throw error
      }
      await Self.removeNetwork(network, testbed)
    }
  }

  /// After `Scenario.with` removed the containers, the network can go too (on the same lane).
  static func removeNetwork(_ network: String, _ testbed: Testbed) async {
    for host in testbed.hosts(in: "prod") {
      _ = try? await testbed.ssh(host, "docker network rm \(network)")
    }
  }

  private func everyOption(on testbed: Testbed, network: String) async throws {
    try await Scenario.with(on: testbed) { s in
      for host in s.hosts("prod") { try await s.testbed.sshChecked(host, "docker network create \(network)") }
      let options = """
        network: \(network)
        network_aliases: [web]
        memory: 64m
        cpus: 0.5
        user: "1000:1000"
        hostname: web-${environment}
        entrypoint: ["/bin/sh", "-c", "echo started by entrypoint; exec /bin/sh /start.sh"]
        workdir: /www
        add_hosts: ["db.internal:10.0.0.5"]
        cap_add: [NET_BIND_SERVICE]
        cap_drop: [ALL]
        read_only: true
        tmpfs: ["/tmp"]
        labels: {team: web}
        ulimits: {nofile: {soft: 512, hard: 1024}}
        docker_args: ["--pids-limit=200"]
        """
      try Self.writePlan(s, options)
      let deploy = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      #expect(deploy.status == 0, "\(deploy.stderr)")
      let release1 = try deploy.report.release?.id
      for host in s.hosts("prod") {
        #expect(try await s.version(on: host) == "v1")
        let c = try await Self.inspect(s, host)
        let config = c["Config"] as? [String: Any] ?? [:]
        let hostConfig = c["HostConfig"] as? [String: Any] ?? [:]
        let networks = (c["NetworkSettings"] as? [String: Any])?["Networks"] as? [String: Any] ?? [:]
        #expect(hostConfig["NetworkMode"] as? String == network)
        #expect(((networks[network] as? [String: Any])?["Aliases"] as? [String] ?? []).contains("web"))
        #expect(hostConfig["Memory"] as? Int == 64 << 20)
        #expect(hostConfig["NanoCpus"] as? Int == 500_000_000)
        #expect(config["User"] as? String == "1000:1000")
        #expect(config["Hostname"] as? String == "web-prod")
        #expect(config["Entrypoint"] as? [String] == ["/bin/sh"])
        #expect(
          config["Cmd"] as? [String] == ["-c", "echo started by entrypoint; exec /bin/sh /start.sh"])
        #expect(config["WorkingDir"] as? String == "/www")
        #expect(hostConfig["ExtraHosts"] as? [String] == ["db.internal:10.0.0.5"])
        #expect((hostConfig["CapAdd"] as? [String] ?? []).contains { $0.hasSuffix("NET_BIND_SERVICE") })
        #expect(hostConfig["CapDrop"] as? [String] == ["ALL"])
        #expect(hostConfig["ReadonlyRootfs"] as? Bool == true)
        #expect((hostConfig["Tmpfs"] as? [String: String])?.keys.sorted() == ["/tmp"])
        #expect((config["Labels"] as? [String: String])?["team"] == "web")
        // The engine lists its default ulimits too (the testbed sets nproc); ours is nofile.
        let ulimits = hostConfig["Ulimits"] as? [[String: Any]] ?? []
        let nofile = ulimits.first { $0["Name"] as? String == "nofile" }
        #expect(nofile?["Soft"] as? Int == 512)
        #expect(nofile?["Hard"] as? Int == 1024)
        #expect(hostConfig["PidsLimit"] as? Int == 200)
        let logs = try await s.testbed.sshChecked(host, "docker logs \(s.app) 2>&1")
        #expect(logs.contains("started by entrypoint"))
      }

      // Only the memory limit changes: a new release, a new container with the new limit.
      try Self.writePlan(s, options.replacingOccurrences(of: "memory: 64m", with: "memory: 96m"))
      let again = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      #expect(again.status == 0, "\(again.stderr)")
      let release2 = try again.report.release?.id
      #expect(release2 != nil && release2 != release1)
      for host in s.hosts("prod") {
        let c = try await Self.inspect(s, host)
        #expect((c["HostConfig"] as? [String: Any])?["Memory"] as? Int == 96 << 20)
        #expect(
          ((c["Config"] as? [String: Any])?["Labels"] as? [String: String])?["deployctl.release"] == release2)
      }
    }
  }

  @Test("gpus is checked in the --dry-run docker run line: the testbed's engine has no GPU runtime")
  func gpusInTheDryRunLine() async throws {
    // `docker run --gpus all` on an engine without the NVIDIA runtime fails with
    // "could not select device driver "" with capabilities: [[gpu]]", so this option cannot
    // be run here; what deployctl would run is what this checks.
    try await Scenario.with { s in
      try Self.writePlan(s, "gpus: \"device=0,1\"\nmemory: 64m")
      let dry = try await s.deployctl(["deploy", "staging", "--image", "v1", "--dry-run"], json: false)
      #expect(dry.status == 0, "\(dry.stderr)")
      #expect(dry.stderr.contains("--gpus '\"device=0,1\"'"), "\(dry.stderr)")
      #expect(dry.stderr.contains("--memory 64m"), "\(dry.stderr)")
      try Self.writePlan(s, "gpus: all")
      let all = try await s.deployctl(["deploy", "staging", "--image", "v1", "--dry-run"], json: false)
      #expect(all.stderr.contains("--gpus all"), "\(all.stderr)")
    }
  }

  @Test("a network missing on the host fails it before its old container stops: old release serving, exit 1")
  func missingNetworkFailsBeforeTheOldContainerStops() async throws {
    try await Scenario.with { s in
      try Self.writePlan(s, "labels: {team: web}")
      let first = try await s.deployctl(["deploy", "staging", "--image", "v1"])
      #expect(first.status == 0, "\(first.stderr)")
      let release1 = try #require(try first.report.release?.id)
      var startedAt: [String: String] = [:]
      for host in s.hosts("staging") {
        startedAt[host.name] = try await s.testbed.sshChecked(
          host, "docker inspect --format '{{.State.StartedAt}}' \(s.app)")
      }
      let network = "\(s.app)-missing"
      try Self.writePlan(s, "network: \(network)")
      let second = try await s.deployctl(["deploy", "staging", "--image", "v2"])
      #expect(second.status == 1, "\(second.stderr)")
      #expect(try second.hosts.allSatisfy { $0.result == .failed }, "\(second.stdout)")
      #expect(second.stderr.contains("docker network create \(network)"), "\(second.stderr)")
      for host in s.hosts("staging") {
        #expect(try await s.version(on: host) == "v1")
        let c = try await Self.inspect(s, host)
        #expect(
          ((c["Config"] as? [String: Any])?["Labels"] as? [String: String])?["deployctl.release"] == release1)
        // Never stopped: the container the first deploy started runs since then.
        let started = try await s.testbed.sshChecked(
          host, "docker inspect --format '{{.State.StartedAt}}' \(s.app)")
        #expect(started == startedAt[host.name])
        let audit = try await s.testbed.sshChecked(host, "tail -1 /var/lib/deployctl/\(s.app)/audit.log")
        #expect(audit.contains("\"result\":\"failed\""), "\(audit)")
      }
    }
  }
}
