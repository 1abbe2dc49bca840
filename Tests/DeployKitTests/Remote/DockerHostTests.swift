import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployTransport

/// `DockerHost` builds scripts and reads their answers: here against canned answers (no host).
@Suite struct DockerHostTests {
  static let digest = "sha256:" + String(repeating: "ab", count: 32)
  let holder = LockHolder(user: "alice", host: "laptop", pid: 42, command: "deploy prod", token: "t-1")
  let quiet = ProgressLog(terminal: Terminal(colors: false, write: { _ in }))

  func plan() throws -> ResolvedPlan {
    let fixture = try ConfigFixture(
      [
        "inventories/prod.yml":
          "environment: prod\nssh:\n  user: deploy\nhosts:\n  h1:\n    address: 10.0.0.1\n",
        "playbooks/web.yml": """
        app: web
        image: registry.example.com/acme/web
        container:
          ports: ["8080:8080"]
          network: backend

        """,
      ], base: false)
    let project = try fixture.load()
    let environment = try project.plan(app: "web").resolved(for: project.inventory(named: "prod"))
    return try #require(environment.hosts.first)
  }

  func host(_ transport: CannedTransport) throws -> DockerHost {
    try DockerHost(plan: plan(), transport: transport, progress: quiet, stop: StopRequest())
  }

  var image: ImageReference { get throws { try ImageReference.parse("registry.example.com/acme/web:v2") } }

  @Test func prepareTakesTheLockReadsTheStateAndPullsInOneScript() async throws {
    let transport = CannedTransport { _ in
      [
        "dirs": ([], 0), "lock": (["acquired"], 0), "releases": (["current "], 0),
        "container": (["Error: No such container: web"], 1), "network": ([], 0),
        "pull": (["a registry warning", "[\"registry.example.com/acme/web@\(Self.digest)\"]"], 0),
      ]
    }
    let result = try await host(transport).prepare(PrepareRequest(holder: holder, pull: image))
    #expect(result.outcome == .ready)
    #expect(result.pulled?.value == Self.digest)
    #expect(result.snapshot?.container == nil)
    #expect(result.snapshot?.releases.current == nil)
    let script = try #require(transport.sent.current.first)
    #expect(transport.sent.current.count == 1)
    // `proxy-route`: whether the app, moved back from `proxy:` to its own ports, still has a route.
    #expect(
      script.sections.map(\.name) == [
        "dirs", "lock", "releases", "container", "proxy-route", "network", "pull",
      ])
    #expect(script.sections.first { $0.name == "container" }?.failure == .isAnswer)
    // A run that finds the lock held stops right after the lock section.
    #expect(script.text.contains("grep -qsxF -e"))
    #expect(script.text.contains("docker network inspect backend"))
  }

  @Test func aHeldLockIsTheAnswerAndNothingElseIsRead() async throws {
    let other = HostStateJSON.line(
      LockHolder(user: "bob", host: "ci", pid: 7, command: "deploy prod", token: "t-2"))
    let transport = CannedTransport { _ in ["dirs": ([], 0), "lock": (["held", "30", other], 0)] }
    let result = try await host(transport).prepare(PrepareRequest(holder: holder, pull: image))
    guard case .locked(let who) = result.outcome else {
      Issue.record("expected locked, got \(result.outcome)")
      return
    }
    #expect(who.holder?.user == "bob")
    #expect(who.expiresIn == 30)
    #expect(who.description.contains("lease expires in 30s"))
  }

  @Test func aFailedPullFailsTheHostNamingTheStepAndSection() async throws {
    let transport = CannedTransport { _ in
      [
        "dirs": ([], 0), "lock": (["acquired"], 0), "releases": (["current "], 0),
        "container": (["Error: No such container: web"], 1), "network": ([], 0),
        "pull": (["Error response from daemon: unauthorized"], 1),
      ]
    }
    let result = try await host(transport).prepare(PrepareRequest(holder: holder, pull: image))
    guard case .failed(let kind, let failure) = result.outcome else {
      Issue.record("expected failed, got \(result.outcome)")
      return
    }
    #expect(kind == .failed)
    #expect(failure.step == .prepare)
    #expect(failure.message.contains("h1: lock, read state, pull (pull) failed with exit status 1"))
    #expect(failure.message.contains("unauthorized"))
  }

  @Test func aMissingNetworkStopsBeforeThePull() async throws {
    let transport = CannedTransport { _ in
      [
        "dirs": ([], 0), "lock": (["acquired"], 0), "releases": (["current "], 0),
        "container": (["Error: No such container: web"], 1),
        "network": (
          ["docker network backend does not exist on this host"], DockerCommand.unchangedExitStatus
        ),
      ]
    }
    let result = try await host(transport).prepare(PrepareRequest(holder: holder, pull: image))
    guard case .failed(_, let failure) = result.outcome else {
      Issue.record("expected failed, got \(result.outcome)")
      return
    }
    #expect(failure.message.contains("(network) failed with exit status 90"))
  }

  func release() throws -> ReleaseRecord {
    var spec = try fullSpec()
    spec.environment = "prod"
    return try ReleaseRecord(
      container: spec, createdAt: Date(timeIntervalSince1970: 1_790_000_000), user: "alice", how: .deploy,
      result: .deployed)
  }

  @Test func installWritesTheEnvFileReplacesTheContainerAndKeepsItsID() async throws {
    let id = String(repeating: "c", count: 64)
    let transport = CannedTransport { _ in
      ["env-file": ([], 0), "pull": ([], 0), "stop": ([], 0), "run": (["some warning", id], 0)]
    }
    let host = try host(transport)
    let plan = InstallPlan(release: try release(), previous: nil, replacing: nil, envFile: "SECRET=1\n")
    try await host.install(plan)
    let script = try #require(transport.sent.current.first)
    #expect(script.sections.map(\.name) == ["env-file", "pull", "run"])
    #expect(script.sections.allSatisfy { $0.failure == .stops })
    #expect(script.text.contains("SECRET=1\nDEPLOYCTL_END"))
    let (_, run) = try host.installScript(plan)
    #expect(run.name == "run")
  }

  @Test func aFailedRunFailsTheInstallWithItsOutput() async throws {
    let transport = CannedTransport { _ in
      ["pull": ([], 0), "run": (["docker: Error response from daemon: port is already allocated."], 125)]
    }
    let plan = InstallPlan(release: try release(), previous: nil, replacing: nil)
    await #expect {
      try await host(transport).install(plan)
    } throws: { error in
      "\(error)".contains("replace container (run) failed with exit status 125")
        && "\(error)".contains("already allocated")
    }
  }

  @Test func commitRunsEveryPartAndAFailedRecordFailsTheStepAfterTheUnlock() async throws {
    let old = try release()
    let transport = CannedTransport { _ in
      [
        "record0": (["disk full"], 1), "current": ([], 0), "forget": (["rm: cannot remove"], 1),
        "unlock": (["released"], 0),
      ]
    }
    let commit = HostCommit(records: [try release()], current: .set(old.id), forget: [old], holder: holder)
    await #expect {
      try await host(transport).commit(commit)
    } throws: { error in
      "\(error)".contains("record, unlock (record0) failed with exit status 1")
    }
    let script = try #require(transport.sent.current.first)
    #expect(script.sections.map(\.name) == ["record0", "current", "forget", "unlock"])
    #expect(!script.sections.contains { $0.failure == .stops })
    // A forgotten release that could not be removed does not fail the commit.
    let clean = CannedTransport { _ in
      [
        "record0": ([], 0), "current": ([], 0), "forget": (["rm: cannot remove"], 1),
        "unlock": (["released"], 0),
      ]
    }
    try await host(clean).commit(commit)
  }

  @Test func aForgottenReleaseTakesEveryRolesKeptContainerWithIt() async throws {
    var old = try release()
    var worker = old.container
    worker.name = "web-worker"
    old.roles = [
      RoleRecord(name: "web", container: old.container), RoleRecord(name: "worker", container: worker),
    ]
    let transport = CannedTransport { _ in
      [
        "record0": ([], 0), "current": ([], 0), "forget": ([], 0), "forget containers": ([], 0),
        "unlock": (["released"], 0),
      ]
    }
    let commit = HostCommit(records: [try release()], current: .set(old.id), forget: [old], holder: holder)
    try await host(transport).commit(commit)
    let script = try #require(transport.sent.current.first)
    #expect(script.sections.map(\.name).contains("forget containers"))
    #expect(script.text.contains("\(old.container.name)-\(old.id)"), "\(script.text)")
    #expect(script.text.contains("web-worker-\(old.id)"), "\(script.text)")
  }

  /// Canned answers, each run marked as a connection event would mark it.
  final class Marking: HostTransport, @unchecked Sendable {
    let inner = CannedTransport { _ in ["inspect": (["Error: No such container: web"], 1)] }
    let mark: @Sendable (inout TransportRun) -> Void
    init(_ mark: @escaping @Sendable (inout TransportRun) -> Void) { self.mark = mark }
    var host: String { "h1" }
    func run(_ script: RemoteScript, timeout: Duration) async throws -> TransportRun {
      var answer = try await inner.run(script, timeout: timeout)
      mark(&answer)
      return answer
    }
    func exec(_ command: RemoteCommand, timeout: Duration?, onLine: (@Sendable (OutputLine) -> Void)?)
      async throws -> ExecResult
    { try await inner.exec(command, timeout: timeout, onLine: onLine) }
    func stream(_ command: RemoteCommand, onLine: @escaping @Sendable (OutputLine) -> Void) async throws
      -> ExecResult
    { try await inner.stream(command, onLine: onLine) }
    func forward(remotePort: Int, remoteHost: String) async throws -> PortForward {
      try await inner.forward(remotePort: remotePort, remoteHost: remoteHost)
    }
    func close() async {}
  }

  @Test func theFirstConnectionIsTimedAsItsOwnStep() async throws {
    let remote = RemoteHost(
      name: "h1", transport: Marking { $0.connected = .milliseconds(12) }, progress: quiet)
    #expect(try await remote.inspect("web") == nil)
    #expect(remote.steps.map(\.step) == ["connect", "inspect"])
  }

  @Test func aStepTheTransportRanOnANewConnectionSaysSo() async throws {
    let said = Locked<[String]>([])
    let progress = ProgressLog(
      terminal: Terminal(colors: false, write: { text in said.withLock { $0.append(text) } }))
    let remote = RemoteHost(name: "h1", transport: Marking { $0.reconnected = true }, progress: progress)
    _ = try await remote.inspect("web")
    #expect(said.current.joined().contains("the connection was lost; continuing on a new one"))
  }
}
