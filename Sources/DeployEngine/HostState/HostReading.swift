import DeployConfig
import DeployTransport
import Foundation

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

/// What a host keeps and runs, read in one script: its release records, what `observe` asked for
/// (the app's container, a Swarm service and its tasks), and its last audit lines.
public struct HostReading: Sendable {
  public var releases: HostReleases
  public var audit: [AuditEntry]
  /// Each `observe` section's output, by the name it was asked under.
  public var observed: [String: RemoteScriptOutput.Section]

  public subscript(name: String) -> RemoteScriptOutput.Section? { observed[name] }
}

extension RemoteHost {
  /// Reads the release records under `paths`, `observe`'s sections (whose failure is part of
  /// the answer) and the last `auditLines` audit lines, as step `step` (quiet).
  public func read(
    _ paths: HostPaths, observe: [(String, RemoteCommand)] = [], auditLines: Int = 0,
    step: String = "read state"
  ) async throws -> HostReading {
    var script = RemoteScript()
    let releases = script.section("releases", HostState.readReleases(paths))
    let observed = observe.map { script.section($0.0, $0.1, failure: .isAnswer) }
    let audit = auditLines > 0 ? script.section("audit", HostState.readAudit(paths, lines: auditLines)) : nil
    let output = try await run(step, script, timeout: .seconds(60), quiet: true)
    guard let records = output[releases] else {
      throw RolloutError.hostState(host: name, problem: "could not read its state: \(output.other.prefix(3))")
    }
    var sections: [String: RemoteScriptOutput.Section] = [:]
    for section in observed { sections[section.name] = output[section] }
    return HostReading(
      releases: try HostState.parseReleases(records.output),
      audit: audit.map { AuditEntry.parseLines(output[$0]?.output ?? "") } ?? [], observed: sections)
  }

  /// The release records and the app's container, with the last `auditLines` audit lines.
  public func snapshot(_ paths: HostPaths, containerName: String, auditLines: Int = 0) async throws -> (
    HostSnapshot, [AuditEntry]
  ) {
    let reading = try await read(
      paths, observe: [("container", DockerCommand.inspectContainer(containerName))], auditLines: auditLines)
    let container = try ContainerInfo.parseInspect(reading["container"])
    return (HostSnapshot(releases: reading.releases, container: container), reading.audit)
  }
}
