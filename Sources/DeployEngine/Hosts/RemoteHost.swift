import DeployTransport
import Foundation

/// One host during a command: its SSH session (one per host for the whole run), where its
/// state lives, and the remote commands sent to it, each timed and shown as progress.
public final class RemoteHost: Sendable {
  public let name: String
  private let connections: SSHConnections
  private let target: SSHTarget
  public let paths: HostPaths
  let progress: ProgressLog
  private let timings: HostSteps

  public init(
    name: String, connections: SSHConnections, target: SSHTarget, paths: HostPaths, progress: ProgressLog
  ) {
    self.name = name
    self.connections = connections
    self.target = target
    self.paths = paths
    self.progress = progress
    timings = HostSteps(host: name, progress: progress)
  }

  /// The host's session, from the run's `SSHConnections`: made on first use (timed as `connect`),
  /// replaced there when it was lost.
  public func liveSession() async throws -> SSHSession {
    let session = try await connections.session(for: target)
    if timings.all.isEmpty, let connected = session.connectDuration.current {
      timings.record("connect", connected)
    }
    return session
  }

  /// Time spent per step so far, in order.
  public var steps: [StepTiming] { timings.all }

  /// Runs `body` as a named step: progress on stderr when it starts and ends, its time kept.
  public func step<T: Sendable>(
    _ step: String, quiet: Bool = false, _ body: () async throws -> T
  ) async throws -> T {
    try await timings.run(step, quiet: quiet, body)
  }

  /// Runs a remote command; a non-zero exit status is an error naming the host and step.
  @discardableResult
  public func run(_ command: RemoteCommand, _ step: String, timeout: Duration = .seconds(120)) async throws
    -> ExecResult
  {
    let result = try await liveSession().exec(command.line, timeout: timeout)
    guard result.succeeded else {
      throw RolloutError.stepFailed(
        host: name, step: step, exitStatus: result.exitStatus,
        stderr: result.stderr.isEmpty ? result.stdout : result.stderr)
    }
    return result
  }

  /// Runs a remote command and returns its result whatever the exit status.
  public func probe(_ command: RemoteCommand, timeout: Duration = .seconds(60)) async throws -> ExecResult {
    try await liveSession().exec(command.line, timeout: timeout)
  }

  /// The container as Docker sees it now (nil: it does not exist).
  func inspect(_ container: String) async throws -> ContainerInfo? {
    let result = try await probe(DockerCommand.inspectContainer(container), timeout: .seconds(30))
    return try ContainerInfo.parseInspect(
      stdout: result.stdout, stderr: result.stderr, exitStatus: result.exitStatus)
  }

  static func firstLine(_ error: any Error) -> String {
    String(String(describing: error).split(separator: "\n").first ?? "")
  }
}

/// What a host runs now, read from its own records and its engine in one round trip.
public struct HostSnapshot: Sendable {
  public var releases: HostReleases
  /// The app's container, if one exists.
  public var container: ContainerInfo?

  /// The record of what runs now, if deployctl put it there.
  public var current: ReleaseRecord? { releases.currentRecord }

  /// The release to go back to from the current one: the newest healthy release deployed
  /// before it.
  public var previous: ReleaseRecord? {
    guard let current else { return nil }
    return releases.records.first {
      $0.id != current.id && $0.result == .deployed && $0.createdAt < current.createdAt
    }
  }
}

extension RemoteHost {
  /// What a host keeps and runs, read in one exec: its release records, the `observe` sections
  /// (the app's container, a Swarm service and its tasks), and its last `auditLines` audit lines.
  public struct Reading: Sendable {
    public var releases: HostReleases
    public var output: RemoteScriptOutput
    public var audit: [AuditEntry]
  }

  public func read(
    _ observe: [(String, RemoteCommand)] = [], auditLines: Int = 0, step: String = "read state"
  )
    async throws -> Reading
  {
    var script = RemoteScript()
    script.section("releases", HostState.readReleases(paths))
    for (name, command) in observe { script.section(name, command, required: false) }
    if auditLines > 0 {
      script.section("audit", HostState.readAudit(paths, lines: auditLines), required: false)
    }
    let result = try await self.step(step, quiet: true) {
      try await run(script.standalone, step, timeout: .seconds(60))
    }
    let output = RemoteScriptOutput(text: result.stdout)
    guard let releases = output["releases"], releases.succeeded else {
      throw RolloutError.hostState(
        host: name, problem: "could not read its state: \(result.stdout.prefix(200))")
    }
    return Reading(
      releases: try HostState.parseReleases(releases.output), output: output,
      audit: AuditEntry.parseLines(output["audit"]?.output ?? ""))
  }

  /// The release records and the app's container, with the last `auditLines` audit lines.
  public func snapshot(containerName: String, auditLines: Int = 0) async throws -> (
    HostSnapshot, [AuditEntry]
  ) {
    let reading = try await read(
      [("container", DockerCommand.inspectContainer(containerName))], auditLines: auditLines)
    let container = try ContainerInfo.parseInspect(reading.output["container"])
    return (HostSnapshot(releases: reading.releases, container: container), reading.audit)
  }
}
