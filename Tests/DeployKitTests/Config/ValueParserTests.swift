import Testing

@testable import DeployConfig
@testable import DeployKit

@Suite struct ValueParserTests {
  func fails<T>(_ parse: (String) throws(ValueError) -> T, _ text: String) -> String? {
    do {
      _ = try parse(text)
      return nil
    } catch {
      return error.message
    }
  }

  @Test func durations() throws {
    #expect(try Duration(parsing: "500ms") == .milliseconds(500))
    #expect(try Duration(parsing: "2s") == .seconds(2))
    #expect(try Duration(parsing: "1m30s") == .seconds(90))
    #expect(try Duration(parsing: "1h") == .seconds(3600))
    #expect(try Duration(parsing: "1.5s") == .milliseconds(1500))
    #expect(try Duration(parsing: "0") == .zero)
    #expect(try Duration(parsing: "1h2m3s4ms") == .milliseconds(3_723_004))
    #expect(try Duration(parsing: "2d") == .seconds(172_800))
    let parse = { (t: String) throws(ValueError) in try Duration(parsing: t) }
    #expect(fails(parse, "10")?.contains("no unit") == true)
    #expect(fails(parse, "10sec")?.contains("unknown unit `sec`") == true)
    #expect(fails(parse, "") != nil)
    #expect(fails(parse, "-1s") != nil)
    #expect(fails(parse, "999999d")?.contains("too long") == true)
    #expect(fails(parse, "s") != nil)
    #expect(fails(parse, "1 s") != nil)
    #expect(fails(parse, "999999h999999h") == nil)
    #expect(fails(parse, "1000000h1000000h1000000h") != nil)
    #expect(Duration.seconds(90).configText == "1m30s")
    #expect(Duration.milliseconds(500).configText == "500ms")
    #expect(Duration.milliseconds(1500).configText == "1.500s")
    #expect(Duration.zero.configText == "0s")
  }

  @Test func sizes() throws {
    #expect(try ByteSize(parsing: "10m").dockerValue == "10m")
    #expect(try ByteSize(parsing: "10m").bytes == 10_000_000)
    #expect(try ByteSize(parsing: "512k").bytes == 512_000)
    #expect(try ByteSize(parsing: "1g").bytes == 1_000_000_000)
    #expect(try ByteSize(parsing: "10MB").dockerValue == "10m")
    #expect(try ByteSize(parsing: "4096").dockerValue == "4096")
    let parse = { (t: String) throws(ValueError) in try ByteSize(parsing: t) }
    #expect(fails(parse, "10q")?.contains("unknown unit") == true)
    #expect(fails(parse, "0m") != nil)
    #expect(fails(parse, "m") != nil)
    #expect(fails(parse, "1.5m") != nil)
    #expect(fails(parse, "-1m") != nil)
  }

  @Test func portMappings() throws {
    #expect(try PortMapping(parsing: "8080:80") == PortMapping(hostPort: 8080, containerPort: 80))
    #expect(
      try PortMapping(parsing: "127.0.0.1:8080:80")
        == PortMapping(hostIP: "127.0.0.1", hostPort: 8080, containerPort: 80))
    #expect(
      try PortMapping(parsing: "8080:80/udp")
        == PortMapping(hostPort: 8080, containerPort: 80, proto: .udp))
    #expect(try PortMapping(parsing: "8080:80/tcp").proto == .tcp)
    #expect(try PortMapping(parsing: "8501") == PortMapping(hostPort: 8501, containerPort: 8501))
    let v6 = try PortMapping(parsing: "[::1]:8080:80")
    #expect(v6.hostIP == "::1")
    #expect(v6.argument == "[::1]:8080:80")
    #expect(try PortMapping(parsing: "127.0.0.1:53:53/udp").argument == "127.0.0.1:53:53/udp")
    let parse = { (t: String) throws(ValueError) in try PortMapping(parsing: t) }
    #expect(fails(parse, "70000:80")?.contains("1 to 65535") == true)
    #expect(fails(parse, "0:80") != nil)
    #expect(fails(parse, "abc") != nil)
    #expect(fails(parse, "8080:80/quic")?.contains("tcp") == true)
    #expect(fails(parse, "300.0.0.1:80:80")?.contains("IPv4") == true)
    #expect(fails(parse, "8000-8010:80")?.contains("ranges") == true)
    #expect(fails(parse, ":80")?.contains("host port") == true)
    #expect(fails(parse, "1.2.3:80:80")?.contains("IPv4") == true)
    #expect(fails(parse, "a:b:c:d") != nil)
  }

  @Test func volumes() throws {
    let bind = try VolumeMount(parsing: "/srv/web/data:/app/data")
    #expect(bind.source == "/srv/web/data")
    #expect(bind.isBindMount)
    #expect(bind.target == "/app/data")
    #expect(!bind.readOnly)
    #expect(try VolumeMount(parsing: "/etc/app:/etc/app:ro").readOnly)
    #expect(try VolumeMount(parsing: "/etc/app:/etc/app:rw").readOnly == false)
    #expect(try VolumeMount(parsing: "data:/app/data") == VolumeMount(source: "data", target: "/app/data"))
    #expect(try VolumeMount(parsing: "data:/app/data:ro").argument == "data:/app/data:ro")
    let parse = { (t: String) throws(ValueError) in try VolumeMount(parsing: t) }
    #expect(fails(parse, "./data:/app/data")?.contains("relative") == true)
    #expect(fails(parse, "data/x:/app/data")?.contains("relative") == true)
    #expect(fails(parse, "~/data:/app/data")?.contains("relative") == true)
    #expect(fails(parse, "/app/data")?.contains("anonymous") == true)
    #expect(fails(parse, "/srv/a:app")?.contains("absolute") == true)
    #expect(fails(parse, "/srv/a b:/app")?.contains("a space") == true)
    #expect(fails(parse, "/srv/$(id):/app")?.contains("`$`") == true)
    #expect(fails(parse, "/srv/a:/app;rm")?.contains("`;`") == true)
    #expect(fails(parse, "/a:/b:rx")?.contains("`ro` or `rw`") == true)
    #expect(fails(parse, "x:/app")?.contains("volume name") == true)
  }

  @Test func batches() throws {
    #expect(BatchPolicy([.hosts(1)]).batches(hostCount: 3) == [1, 1, 1])
    #expect(BatchPolicy([.hosts(2)]).batches(hostCount: 5) == [2, 2, 1])
    #expect(BatchPolicy([.percent(25)]).batches(hostCount: 8) == [2, 2, 2, 2])
    #expect(BatchPolicy([.percent(25)]).batches(hostCount: 2) == [1, 1])
    #expect(BatchPolicy([.percent(100)]).batches(hostCount: 7) == [7])
    #expect(BatchPolicy([.hosts(1), .percent(50), .percent(100)]).batches(hostCount: 10) == [1, 5, 4])
    #expect(BatchPolicy([.hosts(1), .percent(50)]).batches(hostCount: 10) == [1, 5, 4])
    #expect(BatchPolicy([.hosts(1), .hosts(2)]).batches(hostCount: 6) == [1, 2, 2, 1])
    #expect(BatchPolicy([.hosts(5)]).batches(hostCount: 0) == [])
    #expect(BatchPolicy([.hosts(1), .percent(50)]).batches(of: ["a", "b", "c"]) == [["a"], ["b"], ["c"]])
    #expect(try BatchPolicy.Size(parsing: "25%") == .percent(25))
    #expect(try BatchPolicy.Size(parsing: "3") == .hosts(3))
    let parse = { (t: String) throws(ValueError) in try BatchPolicy.Size(parsing: t) }
    #expect(fails(parse, "0%") != nil)
    #expect(fails(parse, "101%") != nil)
    #expect(fails(parse, "0") != nil)
    #expect(fails(parse, "half") != nil)
  }

  @Test func restartPolicies() throws {
    #expect(try RestartPolicy(parsing: "unless-stopped") == .unlessStopped)
    #expect(try RestartPolicy(parsing: "no") == .no)
    #expect(try RestartPolicy(parsing: "always") == .always)
    #expect(try RestartPolicy(parsing: "on-failure") == .onFailure(maxRetries: nil))
    #expect(try RestartPolicy(parsing: "on-failure:3").description == "on-failure:3")
    let parse = { (t: String) throws(ValueError) in try RestartPolicy(parsing: t) }
    #expect(fails(parse, "sometimes") != nil)
    #expect(fails(parse, "on-failure:x") != nil)
  }

  @Test func jumpHosts() throws {
    #expect(
      try JumpHost(parsing: "deploy@bastion.example.com:22")
        == JumpHost(user: "deploy", host: "bastion.example.com"))
    #expect(try JumpHost(parsing: "bastion") == JumpHost(user: nil, host: "bastion", port: 22))
    #expect(try JumpHost(parsing: "ops@10.0.0.1:2222").port == 2222)
    #expect(try JumpHost(parsing: "[fe80::1]:2200") == JumpHost(user: nil, host: "fe80::1", port: 2200))
    let parse = { (t: String) throws(ValueError) in try JumpHost(parsing: t) }
    #expect(fails(parse, "me@host:99999") != nil)
    #expect(fails(parse, "me@") != nil)
    #expect(fails(parse, "bad user@host") != nil)
    #expect(fails(parse, "host;id") != nil)
    #expect(fails(parse, "-oProxyCommand=x") != nil)
  }

  @Test func imageRepositories() throws {
    let testbed = try ImageRepository(parsing: "192.168.250.1:5000/app")
    #expect(testbed.registry == "192.168.250.1:5000")
    #expect(testbed.name == "192.168.250.1:5000/app")
    #expect(try ImageRepository(parsing: "registry.example.com/acme/web").registry == "registry.example.com")
    #expect(try ImageRepository(parsing: "nginx").registry == nil)
    #expect(try ImageRepository(parsing: "acme/web-app_v2").name == "acme/web-app_v2")
    #expect(try ImageRepository(parsing: "localhost/app").registry == "localhost")
    let parse = { (t: String) throws(ValueError) in try ImageRepository(parsing: t) }
    #expect(fails(parse, "acme/web:v1")?.contains("tag is given per deploy") == true)
    #expect(fails(parse, "acme/web@sha256:abc")?.contains("digest") == true)
    #expect(fails(parse, "acme/Web")?.contains("lowercase") == true)
    #expect(fails(parse, "acme//web") != nil)
    #expect(fails(parse, "acme/web-") != nil)
    #expect(fails(parse, "reg:99999/web") != nil)
    #expect(fails(parse, "acme/we b") != nil)
    #expect(fails(parse, "") != nil)
  }

  @Test func names() {
    #expect(Names.isEnvironmentVariableName("DATABASE_URL"))
    #expect(Names.isEnvironmentVariableName("_x1"))
    #expect(!Names.isEnvironmentVariableName("1X"))
    #expect(!Names.isEnvironmentVariableName("A-B"))
    #expect(!Names.isEnvironmentVariableName(""))
    #expect(Names.isContainerName("web.1_a-b"))
    #expect(!Names.isContainerName("-web"))
    #expect(!Names.isContainerName("web 1"))
    #expect(!Names.isContainerName("wéb"))
    #expect(Names.isAddress("10.0.1.11"))
    #expect(Names.isAddress("fe80::1%eth0"))
    #expect(Names.isAddress("web1.example.com"))
    #expect(!Names.isAddress("-oProxyCommand"))
    #expect(!Names.isAddress("a b"))
    #expect(!Names.isAddress("a;b"))
    #expect(!Names.isUserName("de ploy"))
    #expect(!Names.isUserName("-x"))
    #expect(NameRule.containerName.problem("we;b")?.contains("`;`") == true)
    #expect(NameRule.hostName.problem("web\t1")?.contains("a tab") == true)
    #expect(NameRule.hostName.problem("web1") == nil)
  }

  @Test func suggestions() {
    #expect(Suggestion.closest(to: "adress", in: ["address", "port"]) == "address")
    #expect(Suggestion.closest(to: "promote-from", in: ["environment", "promote_from"]) == "promote_from")
    #expect(Suggestion.closest(to: "hots", in: ["hosts", "ssh"]) == "hosts")
    #expect(Suggestion.closest(to: "zzzzzz", in: ["hosts", "ssh"]) == nil)
  }
}
