import DeployConfig
import DeployEngine
import DeployKit
import Foundation
import TestSupport
import Testing

/// One end-to-end scenario on the testbed: its own app (own container name, host port, volume
/// folder and state under /var/lib/deployctl), so scenarios never see each other's releases.
/// Runs the real `deployctl` binary against the testbed's real hosts.
struct Scenario {
  let testbed: Testbed
  let app: String
  let port: Int
  let dir: URL
  var inventories: String { dir.appendingPathComponent("inventories").path }
  var playbooks: String { dir.appendingPathComponent("playbooks").path }

  struct Options {
    var batch = "1"
    var maxFailures = 0
    var retries = 6
    var interval = "500ms"
    var startPeriod = "1s"
    var secrets: [String] = []
    var keep = 5
    /// Keep the testbed's swarm environments in the scenario's inventories (SwarmTests). Other
    /// scenarios leave them out: a plan that uses what Swarm lacks (`gpus`, `docker_args`) would
    /// be refused by `validate` for them.
    var swarm = false
  }

  init(_ testbed: Testbed, _ options: Options = Options()) throws {
    self.testbed = testbed
    app = "t" + UUID().uuidString.prefix(8).lowercased()
    port = Int.random(in: 20000...29999)
    dir = FileManager.default.temporaryDirectory.appendingPathComponent("deployctl-\(app)")
    try FileManager.default.createDirectory(atPath: playbooks, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: testbed.inventories, toPath: inventories)
    if !options.swarm {
      for environment in testbed.swarmEnvironments {
        try? FileManager.default.removeItem(atPath: inventories + "/\(environment).yml")
      }
    }
    let secrets = options.secrets.isEmpty ? "" : "  secrets: [\(options.secrets.joined(separator: ", "))]\n"
    let plan = """
      app: \(app)
      image: \(testbed.image)
      container:
        ports: ["\(port):8080"]
        volumes: ["/srv/\(app)/data:/data"]
        env: {APP_ENV: "${environment}"}
      \(secrets)  stop_timeout: 5s
      health:
        http: {port: \(port), path: /healthz, expect: 200}
        via: ssh
        interval: \(options.interval)
        timeout: 1s
        retries: \(options.retries)
        start_period: \(options.startPeriod)
      rollout:
        batch: \(options.batch)
        max_failures: \(options.maxFailures)
      rollback:
        auto: true
        keep: \(options.keep)

      """
    try plan.write(toFile: playbooks + "/\(app).yml", atomically: true, encoding: .utf8)
  }

  struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
    /// stdout as the JSON document of deploy, promote or rollback.
    var report: CommandReport { get throws { try document(CommandReport.self) } }
    var hosts: [HostReport] { get throws { try report.hosts } }
    func host(_ name: String) throws -> HostReport? { try hosts.first { $0.name == name } }

    /// stdout as JSON of a document with no report type here (`exec`), for its keys.
    var raw: [String: Any] {
      (try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// stdout as the JSON document of another command (`StatusReport`, `HistoryReport`).
    func document<T: Decodable>(_ type: T.Type) throws -> T {
      do {
        return try ReportDecoding.decode(type, from: stdout)
      } catch {
        throw TestFailure("stdout is not a \(type) document (\(error)):\n\(stdout)\n\(stderr)")
      }
    }

    /// Whether the progress on stderr shows `step` done on `host` (`12:00:01 prod-1 pull ok 0.4s`).
    func stepDone(_ host: String, _ step: String) -> Bool {
      stderr.split(separator: "\n").contains { $0.contains(" \(host) \(step) ok") }
    }
  }

  /// Runs deployctl with this scenario's folders; `--output json` so results can be read.
  func deployctl(_ arguments: [String], environment: [String: String] = [:], json: Bool = true) async throws
    -> Run
  {
    var args = arguments + ["--inventories", inventories, "--playbooks", playbooks]
    if json { args += ["--output", "json"] }
    let process = try await DeployctlProcess.start(args, environment: environment)
    return try await process.finish()
  }

  /// Starts deployctl without waiting for it (to signal it, or to race two runs).
  func start(_ arguments: [String], environment: [String: String] = [:]) async throws -> DeployctlProcess {
    try await DeployctlProcess.start(
      arguments + ["--inventories", inventories, "--playbooks", playbooks, "--output", "json"],
      environment: environment)
  }

  /// What the host serves on /version, read from the root namespace at the published port.
  func version(on host: Testbed.Host) async throws -> String {
    let result = try await testbed.ssh(host, "wget -qO- http://127.0.0.1:\(port)/version || true")
    return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func hosts(_ environment: String) -> [Testbed.Host] { testbed.hosts(in: environment) }

  /// Removes this scenario's containers and state from every host (its volume folder too:
  /// it was the test's own).
  func cleanUp() async {
    for host in testbed.hosts {
      _ = try? await testbed.ssh(
        host,
        "docker rm -f $(docker ps -aq --filter label=deployctl.app=\(app)) >/dev/null 2>&1; "
          + "rm -rf /var/lib/deployctl/\(app) /srv/\(app) 2>/dev/null; true")
    }
    try? FileManager.default.removeItem(at: dir)
  }

  /// Runs `body` on a lane of the testbed (`Testbed.use`), cleaning up afterwards also when it
  /// throws.
  static func with<T: Sendable>(_ options: Options = Options(), _ body: (Scenario) async throws -> T)
    async throws -> T
  {
    try await Testbed.use { testbed in try await with(on: testbed, options, body) }
  }

  /// Like `with`, on a lane the caller already holds (inside its `Testbed.use`).
  static func with<T: Sendable>(
    on testbed: Testbed, _ options: Options = Options(), _ body: (Scenario) async throws -> T
  ) async throws -> T {
    let scenario = try Scenario(testbed, options)
    do {
      let value = try await body(scenario)
      await scenario.cleanUp()
      return value
    } catch {
      await scenario.cleanUp()
      throw error
    }
  }
}

/// A running `deployctl` process (TestSupport's `RunningProgram`: output goes to files, not
/// pipes, so nothing it leaves behind can keep the test waiting).
final class DeployctlProcess: Sendable {
  private let program: RunningProgram

  private init(program: RunningProgram) { self.program = program }

  static func start(_ arguments: [String], environment: [String: String]) async throws -> DeployctlProcess {
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "GITHUB_ACTIONS")
    for (key, value) in environment { env[key] = value }
    let binary = try await Deployctl.binary()
    return DeployctlProcess(program: try RunningProgram.start(binary.path, arguments, environment: env))
  }

  var stderrSoFar: String { program.stderrSoFar }
  var stdoutSoFar: String { program.stdoutSoFar }

  var pid: pid_t { program.process.pid }

  var isRunning: Bool { program.process.isRunning }

  func signal(_ number: Int32) { program.process.signal(number) }

  /// Waits (bounded: 5 minutes, then it is stopped) and returns what it printed.
  func finish() async throws -> Scenario.Run {
    let result = await program.finish(timeout: .seconds(300))
    return Scenario.Run(status: result.status, stdout: result.stdout, stderr: result.stderr)
  }

  /// Waits until its progress output contains `text` (bounded).
  func waitForOutput(_ text: String, timeout: Duration = .seconds(120)) async throws {
    let deadline = ContinuousClock.now + timeout
    while !stderrSoFar.contains(text) {
      guard ContinuousClock.now < deadline, program.process.isRunning else {
        throw TestFailure("deployctl never printed \(text); it printed:\n\(stderrSoFar)")
      }
      try await Task.sleep(for: .milliseconds(50))
    }
  }
}

struct TestFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
