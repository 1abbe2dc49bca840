import DeployConfig
import DeployTransport
import Foundation

/// `deployctl logs`: the app container's log from every targeted host at once, each line handed
/// out as it arrives with its host and stream (Docker keeps the container's stdout and stderr
/// apart, and so does SSH).
public struct ContainerLogs: Sendable {
  /// Keep streaming until the calling task is cancelled (SIGINT, SIGTERM).
  public var follow: Bool
  /// Docker's `--since`: a Go duration (`600s`) or a timestamp, from `since(parsing:)`.
  public var since: String?
  /// The last N lines; nil: all.
  public var tail: Int?

  public init(follow: Bool = false, since: String? = nil, tail: Int? = nil) {
    self.follow = follow
    self.since = since
    self.tail = tail
  }

  /// One host to read: how to reach it and its container.
  public struct Source: Sendable {
    public var target: SSHTarget
    public var container: String
    /// `engine: swarm`: `container` is a Swarm service, read with `docker service logs` on the
    /// manager (every task's lines, each prefixed by Docker with its task and node).
    public var service: Bool

    public init(target: SSHTarget, container: String, service: Bool = false) {
      self.target = target
      self.container = container
      self.service = service
    }
  }

  /// How one host's log ended: nil when it was read to the end (or, with `follow`, until the
  /// stop), else why not.
  public struct HostResult: Sendable, Equatable {
    public var host: String
    public var error: String?
  }

  /// `--since`: a duration as deployctl writes them (`10m`, `1h30m`), or a timestamp
  /// (`2026-11-30`, `2026-11-30T08:00:00Z`) given to Docker as is.
  public static func since(parsing text: String) throws(ValueError) -> String {
    // Not a duration: then it must be a timestamp, checked below.
    if let duration = try? Duration(parsing: text) {
      let (seconds, attoseconds) = duration.components
      return "\(seconds + (attoseconds > 0 ? 1 : 0))s"
    }
    let timestamp =
      text.utf8.count >= 10 && text.utf8.prefix(4).allSatisfy(Names.isDigit)
      && text.utf8.dropFirst(4).first == UInt8(ascii: "-")
      && text.utf8.allSatisfy { Names.isDigit($0) || "-:.TZ+".utf8.contains($0) }
    guard timestamp else {
      throw ValueError(
        "`\(text)` is neither a duration (`10m`, `1h30m`) nor a timestamp (`2026-11-30T08:00:00Z`)")
    }
    return text
  }

  /// The `docker logs` invocation for `container`.
  public func dockerLogs(_ container: String, service: Bool = false) -> RemoteCommand {
    var argv = service ? ["docker", "service", "logs", "--no-trunc"] : ["docker", "logs"]
    if follow { argv.append("--follow") }
    if let since { argv += ["--since", since] }
    if let tail { argv += ["--tail", String(max(0, tail))] }
    return RemoteCommand(argv + [container])
  }

  /// What the host's shell runs. With `follow`, closing the SSH channel alone would leave
  /// `docker logs --follow` running on the host; so it runs in the background while a watcher
  /// reads the channel's stdin and stops it when that ends (deployctl sends end-of-file when
  /// asked to stop; sshd closes it when the connection drops). The watcher's output goes
  /// nowhere, so the channel ends as soon as `docker logs` does.
  public func command(container: String, service: Bool = false) -> RemoteCommand {
    let logs = dockerLogs(container, service: service)
    guard follow else { return logs }
    // File descriptors, a background job and its pid: reviewed shell.
    return .program(
      "exec 3<&0; \(logs.line) & p=$!; { cat <&3 >/dev/null 2>&1; kill $p 2>/dev/null; } >/dev/null 2>&1 & "
        + "exec 3<&-; wait $p")
  }

  /// Reads every source at once. `onLine` gets each line with its host; `onFailure` a host that
  /// failed, as soon as it did (the others go on). Cancel the calling task to stop following.
  public func run(
    _ sources: [Source], connections: SSHConnections = SSHConnections(),
    onLine: @escaping @Sendable (String, OutputLine) -> Void,
    onFailure: @escaping @Sendable (String, String) -> Void
  ) async -> [HostResult] {
    let follow = follow
    let outcomes = await FanOut.run(sources, parallel: max(1, sources.count), name: \.target.name) {
      source in
      let host = source.target.name
      let command = command(container: source.container, service: source.service)
      do {
        let transport = SSHTransport(target: source.target, connections: connections)
        let result =
          follow
          ? try await transport.stream(command) { onLine(host, $0) }
          : try await transport.exec(command, timeout: nil) { onLine(host, $0) }
        let stopped = follow && Task.isCancelled
        if !result.succeeded && !stopped {
          throw LogsFailure(
            "docker logs \(source.container) exited with status \(result.exitStatus)"
              + (follow ? "" : " (its message is above)"))
        }
      } catch is CancellationError {
        return  // stopped before this host streamed: not a failure of the host
      } catch {
        let message = (error as? LogsFailure)?.message ?? String(describing: error)
        onFailure(host, message)
        throw LogsFailure(message)
      }
    }
    await connections.closeAll()
    return outcomes.map { outcome in
      HostResult(
        host: outcome.host,
        error: outcome.error.flatMap { $0 is CancellationError ? nil : ($0 as? LogsFailure)?.message })
    }
  }
}

private struct LogsFailure: Error {
  var message: String
  init(_ message: String) { self.message = message }
}
