import Foundation
import TestSupport
import Testing

/// `deployctl logs` end to end: the real binary reads the app container's log on the testbed's
/// real hosts over SSH.
@Suite("Logs end to end", .enabled(if: Testbed.isAvailable))
struct LogsCommandTests {
  /// A plan whose container runs `script` (a shell line) before the test image's server.
  static func writePlan(_ s: Scenario, script: String) throws {
    let plan = """
      app: \(s.app)
      image: \(s.testbed.image)
      container:
        ports: ["\(s.port):8080"]
        stop_timeout: 5s
        entrypoint: ["/bin/sh", "-c", "\(script) exec /bin/sh /start.sh"]
      health:
        http: {port: \(s.port), path: /healthz}
        interval: 500ms
        timeout: 1s
        retries: 6
        start_period: 1s

      """
    try plan.write(toFile: s.playbooks + "/\(s.app).yml", atomically: true, encoding: .utf8)
  }

  /// Starts deployctl with plain text output, so log lines go to stdout and stderr as they are.
  static func start(_ s: Scenario, _ arguments: [String]) async throws -> DeployctlProcess {
    try await DeployctlProcess.start(
      arguments + ["--inventories", s.inventories, "--playbooks", s.playbooks], environment: [:])
  }

  /// `docker logs` processes of this scenario's container anywhere on the machine (the hosts
  /// share one process table, so one `ps` sees them all).
  static func dockerLogsProcesses(_ s: Scenario) async throws -> [String] {
    let host = try #require(s.hosts("prod").first)
    let ps = try await s.testbed.sshChecked(host, "ps -eo args")
    return ps.split(separator: "\n").map(String.init).filter {
      $0.contains("docker logs") && $0.contains(s.app)
    }
  }

  @Test("every host's lines, prefixed with the host, stdout and stderr kept apart; --tail")
  func logsAndTail() async throws {
    try await Scenario.with { s in
      // Docker copies stdout and stderr separately: the pause keeps line-3 before line-4 in the log.
      try Self.writePlan(s, script: "echo line-1; echo line-2; echo line-3 >&2; sleep 1; echo line-4;")
      let deploy = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      #expect(deploy.status == 0, "\(deploy.stderr)")

      let all = try await Self.start(s, ["logs", "prod"]).finish()
      #expect(all.status == 0, "\(all.stderr)")
      for host in s.hosts("prod") {
        #expect(all.stdout.contains("\(host.name): line-1\n"), "\(all.stdout)")
        #expect(all.stdout.contains("\(host.name): line-4\n"), "\(all.stdout)")
        #expect(all.stdout.contains("\(host.name): app v1 listening on :8080"), "\(all.stdout)")
        #expect(all.stderr.contains("\(host.name): line-3\n"), "\(all.stderr)")
      }
      #expect(!all.stdout.contains("line-3"))
      #expect(!all.stderr.contains("line-1") && !all.stderr.contains("listening"))

      let tail = try await Self.start(s, ["logs", "prod", "--tail", "2", "--since", "1h"]).finish()
      #expect(tail.status == 0, "\(tail.stderr)")
      for host in s.hosts("prod") {
        #expect(tail.stdout.contains("\(host.name): line-4\n"), "\(tail.stdout)")
        #expect(tail.stdout.contains("\(host.name): app v1 listening"), "\(tail.stdout)")
      }
      #expect(!tail.stdout.contains("line-1") && !tail.stdout.contains("line-2"))
      #expect(!tail.stderr.contains("line-3"))

      let limited = try await Self.start(s, ["logs", "prod", "--limit", "prod-2"]).finish()
      #expect(limited.stdout.contains("prod-2: line-1") && !limited.stdout.contains("prod-1:"))

      let bad = try await Self.start(s, ["logs", "prod", "--since", "yesterday"]).finish()
      #expect(bad.status == 2)
      #expect(bad.stderr.contains("--since"), "\(bad.stderr)")
    }
  }

  @Test("--follow streams new lines until SIGINT, exits 0 and leaves no docker logs on the hosts")
  func followUntilInterrupted() async throws {
    try await Scenario.with { s in
      try Self.writePlan(
        s, script: "(i=0; while sleep 0.3; do i=$((i+1)); echo tick-$i; echo tock-$i >&2; done) &")
      let deploy = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      #expect(deploy.status == 0, "\(deploy.stderr)")

      let follow = try await Self.start(s, ["logs", "prod", "--follow", "--tail", "0"])
      // Lines written after deployctl started: with --tail 0 only following shows them.
      for host in s.hosts("prod") {
        try await waitFor(follow, "\(host.name): tick-", in: \.stdoutSoFar)
        try await waitFor(follow, "\(host.name): tock-", in: \.stderrSoFar)
      }
      #expect(!(try await Self.dockerLogsProcesses(s)).isEmpty, "docker logs --follow runs while following")
      follow.signal(SIGINT)
      let run = try await follow.finish()
      #expect(run.status == 0, "\(run.stderr)")
      #expect(!run.stdout.contains("tock-"))
      #expect(!run.stderr.contains("tick-"))
      #expect(try await Self.dockerLogsProcesses(s) == [])
    }
  }

  @Test("a host that cannot be reached is named on stderr while the others stream; exit 1")
  func unreachableHost() async throws {
    try await Scenario.with { s in
      try Self.writePlan(s, script: "(i=0; while sleep 0.3; do i=$((i+1)); echo tick-$i; done) &")
      let deploy = try await s.deployctl(["deploy", "prod", "--image", "v1"])
      #expect(deploy.status == 0, "\(deploy.stderr)")
      let cut = try s.testbed.host("prod-2")
      try await s.testbed.cut(cut)
      do {
        let follow = try await Self.start(s, ["logs", "prod", "--follow"])
        try await waitFor(follow, "prod-2: error", in: \.stderrSoFar)
        // prod-1 still streams after prod-2 failed.
        let seen = follow.stdoutSoFar.components(separatedBy: "prod-1: tick-").count
        try await waitFor(follow, "", in: \.stdoutSoFar) {
          $0.components(separatedBy: "prod-1: tick-").count > seen + 1
        }
        follow.signal(SIGINT)
        let run = try await follow.finish()
        #expect(run.status == 1, "\(run.stderr)")
        #expect(!run.stdout.contains("prod-2:"))
        try await s.testbed.heal(cut)
      } catch {
        try? await s.testbed.heal(cut)
        throw error
      }
    }
  }
}

/// Waits (bounded) until `text` shows in one of the process's outputs, or `until` holds.
private func waitFor(
  _ process: DeployctlProcess, _ text: String, in output: KeyPath<DeployctlProcess, String>,
  timeout: Duration = .seconds(60), until: ((String) -> Bool)? = nil
) async throws {
  let deadline = ContinuousClock.now + timeout
  while !(until?(process[keyPath: output]) ?? process[keyPath: output].contains(text)) {
    guard ContinuousClock.now < deadline else {
      throw TestFailure(
        "deployctl never printed \(text); stdout:\n\(process.stdoutSoFar)\nstderr:\n\(process.stderrSoFar)")
    }
    try await Task.sleep(for: .milliseconds(100))
  }
}
