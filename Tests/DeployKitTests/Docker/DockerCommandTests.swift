import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

func fullSpec() throws -> ContainerRunSpec {
  ContainerRunSpec(
    name: "web",
    image: try ImageReference.parse("registry.example.com:5000/acme/web:v2@" + digestA),
    ports: [
      PortMapping(hostPort: 8080, containerPort: 8080),
      PortMapping(hostIP: "127.0.0.1", hostPort: 9090, containerPort: 9090, proto: .udp),
      PortMapping(hostIP: "::1", hostPort: 9443, containerPort: 443),
    ],
    volumes: [
      VolumeMount(source: "/srv/web/data", target: "/app/data"),
      VolumeMount(source: "web-cache", target: "/cache", readOnly: true),
    ],
    env: [EnvVar("APP_ENV", "staging"), EnvVar("GREETING", "it's $(not) run; `ok`")],
    envFile: "/var/lib/deployctl/web/secrets/staging/20261121-171530-3fa9.env",
    command: ["serve", "--listen", ":8080", "a b"],
    restart: .onFailure(maxRetries: 5),
    stopTimeout: .milliseconds(10_500),
    log: LogOptions(maxSize: "10m", maxFiles: 3),
    app: "web", environment: "staging", release: "20261121-171530-3fa9",
    extraLabels: ["team": "payments", "com.example.tier": "frontend"],
    initProcess: true)
}

@Suite struct DockerCommandTests {
  @Test func runArgvForAFullSpec() throws {
    let command = try DockerCommand.run(fullSpec())
    #expect(
      command.argv == [
        "docker", "run", "--detach", "--name", "web",
        "--label", "deployctl.app=web",
        "--label", "deployctl.environment=staging",
        "--label", "deployctl.release=20261121-171530-3fa9",
        "--label", "com.example.tier=frontend",
        "--label", "team=payments",
        "--init",
        "--restart", "on-failure:5",
        "--stop-timeout", "11",
        "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
        "--publish", "8080:8080",
        "--publish", "127.0.0.1:9090:9090/udp",
        "--publish", "[::1]:9443:443",
        "--volume", "/srv/web/data:/app/data",
        "--volume", "web-cache:/cache:ro",
        "--env-file", "/var/lib/deployctl/web/secrets/staging/20261121-171530-3fa9.env",
        "--env", "APP_ENV=staging",
        "--env", "GREETING=it's $(not) run; `ok`",
        "registry.example.com:5000/acme/web@" + digestA,
        "serve", "--listen", ":8080", "a b",
      ])
  }

  @Test func minimalSpec() throws {
    let spec = ContainerRunSpec(
      name: "api", image: try ImageReference.parse("nginx@" + digestA), restart: .no, app: "api",
      environment: "dev", release: "r1", initProcess: false)
    #expect(
      try DockerCommand.run(spec).line
        == "docker run --detach --name api --label deployctl.app=api --label deployctl.environment=dev"
        + " --label deployctl.release=r1 --init=false --restart no nginx@\(digestA)")
  }

  /// The command line, run by a real /bin/sh with a stand-in `docker` first on PATH that
  /// prints its arguments, delivers exactly the argv we built: nothing split, expanded or run.
  @Test func commandLinesArriveLiterallyAtDocker() async throws {
    let dir = try TemporaryDirectory()
    defer { dir.remove() }
    let fake = dir.url.appendingPathComponent("docker")
    try writeExecutable(fake.path, "#!/bin/sh\nprintf '%s\\0' \"$@\"\n")

    var spec = try fullSpec()
    spec.command = nastyValues.filter { !$0.isEmpty }
    spec.env.append(EnvVar("NASTY", nastyValues.joined(separator: "|")))
    let commands = [
      try DockerCommand.run(spec),
      DockerCommand.pull(spec.image),
      DockerCommand.stop("we'b$(x)", timeoutSeconds: 7),
      DockerCommand.logs("web", tail: 50, timestamps: true),
      DockerCommand.inspectContainer("web"),
      DockerCommand.imageRepoDigests(spec.image),
      DockerCommand.removeImages(["a@" + digestA, "b:v1"]),
      DockerCommand.rename("web", to: "web-previous"),
    ]
    for command in commands {
      let result = try await LocalProcess.sh(
        "PATH=\(ShellQuote.quote(dir.path)):$PATH; " + command.line, in: dir.url)
      #expect(result.status == 0, "\(result.stderr)")
      let received = result.stdout.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(
        String.init)
      #expect(["docker"] + received == command.argv!)
    }
    #expect(!FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("pwned").path))
  }

  @Test func simpleCommands() throws {
    let image = try ImageReference.parse("v2", defaultRepository: planRepo)
    #expect(DockerCommand.pull(image).line == "docker pull registry.example.com/acme/web:v2")
    #expect(
      DockerCommand.pull(image.resolved(to: try ImageDigest(digestA))).line
        == "docker pull \(planRepo)@\(digestA)")
    #expect(
      DockerCommand.imageRepoDigests(image).line
        == "docker image inspect --format '{{json .RepoDigests}}' registry.example.com/acme/web:v2")
    #expect(
      DockerCommand.inspectContainer("web").line == "docker container inspect --format '{{json .}}' web")
    #expect(DockerCommand.stop("web", timeoutSeconds: 10).line == "docker stop --time 10 web")
    #expect(DockerCommand.stop("web").line == "docker stop web")
    #expect(DockerCommand.remove("web").line == "docker rm web")
    #expect(DockerCommand.rename("web", to: "web-old").line == "docker rename web web-old")
    #expect(DockerCommand.logs("web", tail: 100).line == "docker logs --tail 100 web")
    #expect(DockerCommand.removeImages(["a:v1", "b:v2"]).line == "docker image rm a:v1 b:v2")
  }

  @Test func invalidSpecListsEveryProblem() throws {
    var spec = try fullSpec()
    spec.name = "-web"
    spec.image = try ImageReference.parse("v2", defaultRepository: planRepo)
    spec.ports = [
      PortMapping(hostPort: 0, containerPort: 80),
      PortMapping(hostIP: "localhost", hostPort: 80, containerPort: 80),
      PortMapping(hostPort: 8080, containerPort: 1), PortMapping(hostPort: 8080, containerPort: 2),
    ]
    spec.volumes = [
      VolumeMount(source: "data", target: "relative"), VolumeMount(source: "/a:b", target: "/c"),
      VolumeMount(source: "./data", target: "/d"),
    ]
    spec.env = [EnvVar("1BAD", "x"), EnvVar("OK", "fine")]
    spec.envFile = "relative.env"
    spec.log = LogOptions(maxSize: "10x", maxFiles: 0)
    spec.extraLabels = ["deployctl.release": "spoof", "a=b": "c"]
    #expect {
      try DockerCommand.run(spec)
    } throws: { error in
      guard case .invalidSpec(let problems) = error as? DockerError else { return false }
      let text = problems.joined(separator: "\n")
      return problems.count == 14 && text.contains("container name") && text.contains("not pinned")
        && text.contains("host port 0") && text.contains("\"localhost\"") && text.contains("published twice")
        && text.contains("must be an absolute path") && text.contains("':'") && text.contains("1BAD")
        && text.contains("relative.env") && text.contains("max_size") && text.contains("max_files")
        && text.contains("deployctl.release") && text.contains("\"a=b\"") && text.contains("volume name")
    }
  }

  @Test func restartPolicySpellings() {
    for text in ["no", "always", "unless-stopped", "on-failure", "on-failure:3"] {
      #expect(RestartPolicy(text)?.description == text)
    }
    #expect(RestartPolicy("sometimes") == nil)
    #expect(RestartPolicy("on-failure:-1") == nil)
  }

  @Test func specRoundTripsThroughJSON() throws {
    let spec = try fullSpec()
    let data = try HostStateJSON.encoder().encode(spec)
    let text = String(decoding: data, as: UTF8.self)
    #expect(text.contains("\"stop_timeout_seconds\":11"))
    #expect(text.contains("\"restart\":\"on-failure:5\""))
    let decoded = try HostStateJSON.decoder().decode(ContainerRunSpec.self, from: data)
    #expect(decoded.stopTimeout == .seconds(11))
    #expect(decoded == spec)
  }

  @Test func envFileCarriesSecretsLineByLine() throws {
    #expect(
      try EnvFile.render([EnvVar("DATABASE_URL", "postgres://u:p'w@db/x"), EnvVar("TOKEN", "a=b c")])
        == "DATABASE_URL=postgres://u:p'w@db/x\nTOKEN=a=b c\n")
    #expect {
      try EnvFile.render([EnvVar("KEY", "line1\nline2-secret")])
    } throws: { error in
      let text = String(describing: error)
      return text.contains("KEY") && !text.contains("line2-secret")
    }
  }
}
