import DeployConfig
import DeployTransport
import Foundation

/// A container's state as `docker container inspect --format '{{json .}}'` prints it.
public struct ContainerInfo: Sendable, Equatable {
  public var id: String
  /// Without Docker's leading `/`.
  public var name: String
  /// `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`.
  public var status: String
  public var running: Bool
  public var restarting: Bool
  public var oomKilled: Bool
  public var exitCode: Int
  /// Docker's own error text for the last start (e.g. a port already allocated), often empty.
  public var error: String
  public var restartCount: Int
  /// Nil when the image has no HEALTHCHECK.
  public var health: ContainerHealth?
  /// `sha256:…` of the local image.
  public var imageID: String
  /// The reference the container was created from (`Config.Image`), e.g. `repo@sha256:…`.
  public var image: String
  public var labels: [String: String]
  public var startedAt: Date?
  public var finishedAt: Date?

  public var app: String? { labels[ContainerRunSpec.appLabel] }
  public var environment: String? { labels[ContainerRunSpec.environmentLabel] }
  public var release: String? { labels[ContainerRunSpec.releaseLabel] }

  /// Started by deployctl for this app and environment (what `spec` would replace in place).
  public func isRelease(of spec: ContainerRunSpec) -> Bool {
    app == spec.app && environment == spec.environment
  }

  /// Reads `docker container inspect` output: one object (`--format '{{json .}}'`), one per
  /// line, or Docker's default JSON array.
  public static func parse(_ output: String) throws(DockerError) -> [ContainerInfo] {
    let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !trimmed.isEmpty else { return [] }
    do {
      let decoder = JSONDecoder()
      if trimmed.hasPrefix("[") {
        return try decoder.decode([InspectJSON].self, from: Data(trimmed.utf8)).map(ContainerInfo.init)
      }
      return try trimmed.split(separator: "\n").map {
        ContainerInfo(try decoder.decode(InspectJSON.self, from: Data($0.utf8)))
      }
    } catch {
      throw .unexpectedOutput(command: "docker container inspect", detail: describe(error))
    }
  }

  /// Reads `DockerCommand.inspectContainer` run as a `RemoteScript` section (its two streams
  /// merged): the output is the container on success, the error otherwise.
  static func parseInspect(_ section: RemoteScriptOutput.Section?) throws(DockerError) -> ContainerInfo? {
    let output = section?.output ?? ""
    let succeeded = section?.succeeded == true
    return try parseInspect(
      stdout: succeeded ? output : "", stderr: succeeded ? "" : output, exitStatus: section?.status ?? 1)
  }

  /// Reads the result of `DockerCommand.inspectContainer`: nil when no such container exists,
  /// the container when it does; any other failure (daemon down, permission) is an error.
  public static func parseInspect(stdout: String, stderr: String, exitStatus: Int32) throws(DockerError)
    -> ContainerInfo?
  {
    if exitStatus != 0 {
      if isNoSuchContainer(stderr) { return nil }
      let message = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
      throw .unexpectedOutput(
        command: "docker container inspect",
        detail: "exit status \(exitStatus): \(message.isEmpty ? "no message" : message)")
    }
    let containers = try parse(stdout)
    guard containers.count == 1 else {
      throw .unexpectedOutput(
        command: "docker container inspect", detail: "expected 1 container, got \(containers.count)")
    }
    return containers[0]
  }

  /// Docker's message for a missing container or object, old and new wording.
  public static func isNoSuchContainer(_ stderr: String) -> Bool {
    stderr.contains("No such container") || stderr.contains("No such object")
  }

  /// Dead or alive, for `HealthCheck`'s liveness closure. With `initial` (the state right after
  /// `docker run`), a restart in between counts as dead even if Docker already restarted it.
  public func liveness(since initial: ContainerInfo? = nil) -> Liveness {
    if let initial, initial.id != id {
      return .dead("the container was replaced by another one (id \(id.prefix(12)))")
    }
    let exit =
      "exit code \(exitCode)\(oomKilled ? ", killed for lack of memory" : "")"
      + (error.isEmpty ? "" : ", \(error)")
    if restarting {
      return .dead("restarting after it exited (\(exit)), restarted \(restartCount) time(s) so far")
    }
    if !running {
      return .dead("\(status) (\(exit))")
    }
    if let initial, restartCount > initial.restartCount {
      // Running again: Docker has already reset the exit code, so none is shown.
      return .dead("restarted \(restartCount - initial.restartCount) time(s) since it was started")
    }
    return .alive
  }

  /// The verdict of the image's own HEALTHCHECK, for `HealthCheck`'s probe; nil when the image
  /// has none.
  public var dockerHealthVerdict: ProbeResult? {
    guard let health else { return nil }
    var reason = "docker health status: \(health.status.rawValue)"
    if health.status != .healthy, let last = health.lastOutput, !last.isEmpty {
      reason += " (last check: \(last))"
    }
    return health.status == .healthy ? .healthy(reason) : .unhealthy(reason)
  }

  private init(_ json: InspectJSON) {
    id = json.Id ?? ""
    name = String((json.Name ?? "").drop(while: { $0 == "/" }))
    status = json.State?.Status ?? "unknown"
    running = json.State?.Running ?? false
    restarting = json.State?.Restarting ?? false
    oomKilled = json.State?.OOMKilled ?? false
    exitCode = json.State?.ExitCode ?? 0
    error = json.State?.Error ?? ""
    restartCount = json.RestartCount ?? 0
    health = json.State?.Health.map { health in
      let last = health.Log?.last.map { entry in
        let output = (entry.Output ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let clipped = output.count > 200 ? String(output.prefix(200)) + "…" : output
        return "exit \(entry.ExitCode ?? 0)" + (clipped.isEmpty ? "" : ": \(clipped)")
      }
      return ContainerHealth(
        status: ContainerHealth.Status(rawValue: health.Status ?? "") ?? .unknown,
        failingStreak: health.FailingStreak ?? 0, lastOutput: last)
    }
    imageID = json.Image ?? ""
    image = json.Config?.Image ?? ""
    labels = json.Config?.Labels ?? [:]
    startedAt = DockerTime.parse(json.State?.StartedAt)
    finishedAt = DockerTime.parse(json.State?.FinishedAt)
  }
}

/// `State.Health`.
public struct ContainerHealth: Sendable, Equatable {
  public enum Status: String, Sendable {
    case starting, healthy, unhealthy, none
    case unknown
  }
  public var status: Status
  public var failingStreak: Int
  /// The last check's exit code and output, shortened.
  public var lastOutput: String?
}

/// One line of `docker ps --format '{{json .}}'`.
public struct ContainerSummary: Sendable, Equatable {
  public var id: String
  public var names: String
  public var image: String
  /// `running`, `exited`, … (Docker 20.10 and later).
  public var state: String
  /// Human text such as `Up 3 minutes (healthy)`.
  public var status: String
  /// Parsed from Docker's `k=v,k=v` text; a value containing `,` cannot be told apart there, so
  /// inspect the container when exact extra labels matter (ours never contain `,`).
  public var labels: [String: String]
  public var createdAt: String

  public var release: String? { labels[ContainerRunSpec.releaseLabel] }
  public var environment: String? { labels[ContainerRunSpec.environmentLabel] }

  public static func parse(_ output: String) throws(DockerError) -> [ContainerSummary] {
    var result: [ContainerSummary] = []
    for (index, line) in output.split(separator: "\n").enumerated() {
      let text = line.trimmingCharacters(in: .whitespaces)
      if text.isEmpty { continue }
      do {
        let json = try JSONDecoder().decode(PsJSON.self, from: Data(text.utf8))
        result.append(
          ContainerSummary(
            id: json.ID ?? "", names: json.Names ?? "", image: json.Image ?? "", state: json.State ?? "",
            status: json.Status ?? "", labels: parseLabels(json.Labels ?? ""), createdAt: json.CreatedAt ?? ""
          ))
      } catch {
        throw .unexpectedOutput(command: "docker ps", detail: "line \(index + 1): \(describe(error))")
      }
    }
    return result
  }

  static func parseLabels(_ text: String) -> [String: String] {
    var labels: [String: String] = [:]
    for pair in text.split(separator: ",") {
      guard let equals = pair.firstIndex(of: "=") else { continue }
      labels[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return labels
  }
}

public enum DockerOutput {
  /// The digest the registry serves for `repository`, from `DockerCommand.imageRepoDigests`
  /// output (`["registry:5000/acme/web@sha256:…"]`). An image that was never pushed to or
  /// pulled from a registry has none: push it first.
  public static func repoDigest(_ output: String, repository: String) throws(DockerError) -> ImageDigest {
    let entries: [String]
    do {
      let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
      entries = trimmed == "null" ? [] : try JSONDecoder().decode([String].self, from: Data(trimmed.utf8))
    } catch {
      throw .unexpectedOutput(command: "docker image inspect", detail: describe(error))
    }
    let wanted = ImageReference.familiar(repository)
    for entry in entries {
      guard let at = entry.lastIndex(of: "@") else { continue }
      if ImageReference.familiar(String(entry[..<at])) == wanted {
        return try ImageDigest(String(entry[entry.index(after: at)...]))
      }
    }
    let seen =
      entries.isEmpty
      ? "none (the image was built locally and never pushed?)" : entries.joined(separator: ", ")
    throw .unexpectedOutput(
      command: "docker image inspect",
      detail: "no repository digest for \(repository); repository digests: \(seen)")
  }
}

/// Docker prints times as RFC 3339 with nanoseconds; the zero time means "never".
enum DockerTime {
  static func parse(_ text: String?) -> Date? {
    guard let text, !text.isEmpty, !text.hasPrefix("0001-01-01") else { return nil }
    // Docker writes either form; a time it writes in neither is left unknown.
    return (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
      ?? (try? Date.ISO8601FormatStyle().parse(text))
  }
}

private func describe(_ error: Error) -> String {
  switch error {
  case DecodingError.dataCorrupted(let context):
    return "not JSON: \(context.debugDescription)"
  case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
    let path = context.codingPath.map(\.stringValue).joined(separator: ".")
    return "\(path): \(context.debugDescription)"
  default:
    return String(describing: error)
  }
}

// The subset of Docker's JSON we read. Every field optional: Docker versions differ.
private struct InspectJSON: Decodable {
  var Id: String?
  var Name: String?
  var RestartCount: Int?
  var Image: String?
  var State: StateJSON?
  var Config: ConfigJSON?

  struct StateJSON: Decodable {
    var Status: String?
    var Running: Bool?
    var Restarting: Bool?
    var OOMKilled: Bool?
    var ExitCode: Int?
    var Error: String?
    var StartedAt: String?
    var FinishedAt: String?
    var Health: HealthJSON?
  }

  struct HealthJSON: Decodable {
    var Status: String?
    var FailingStreak: Int?
    var Log: [HealthLogJSON]?
  }

  struct HealthLogJSON: Decodable {
    var ExitCode: Int?
    var Output: String?
  }

  struct ConfigJSON: Decodable {
    var Image: String?
    var Labels: [String: String]?
  }
}

private struct PsJSON: Decodable {
  var ID: String?
  var Names: String?
  var Image: String?
  var State: String?
  var Status: String?
  var Labels: String?
  var CreatedAt: String?
}

extension RemoteHost {
  /// The container as Docker sees it now (nil: it does not exist), through the host's shell.
  func inspect(_ container: String) async throws -> ContainerInfo? {
    var script = RemoteScript()
    let inspect = script.section("inspect", DockerCommand.inspectContainer(container), failure: .isAnswer)
    let output = try await run("inspect", script, timeout: .seconds(30), quiet: true)
    return try ContainerInfo.parseInspect(output[inspect])
  }
}
