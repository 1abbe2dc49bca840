import DeployConfig
import DeployTransport
import Foundation

/// One task of a Swarm service as `docker service ps` lists it, with its node's address.
public struct SwarmTask: Sendable, Equatable, Codable {
  public var id: String
  /// `web.1`.
  public var name: String
  /// The node's host name.
  public var node: String
  /// The node's address in the swarm (`docker node inspect`'s `Status.Addr`), when known.
  @OmittedWhenNil public var address: String? = nil
  public var desiredState: String
  /// `Running 5 seconds ago` → `running`.
  public var state: String
  public var image: String
  @OmittedWhenNil public var error: String? = nil
  /// The plan's health check against this task (status only).
  @OmittedWhenNil public var health: String? = nil

  public var isRunning: Bool { state == "running" }
}

/// Reading tasks and nodes on a manager.
public enum SwarmTasks {
  static let separator = "\t"

  /// The service's tasks (every desired state; the newest first, as Docker lists them).
  public static func list(_ service: String) -> RemoteCommand {
    RemoteCommand([
      "docker", "service", "ps", "--no-trunc", "--format",
      [
        "{{.ID}}", "{{.Name}}", "{{.Node}}", "{{.DesiredState}}", "{{.CurrentState}}", "{{.Image}}",
        "{{.Error}}",
      ]
      .joined(separator: separator), service,
    ])
  }

  /// Every node: host name, address, state.
  public static let nodes = RemoteCommand(
    script: "docker node inspect $(docker node ls -q) --format "
      + ShellQuote.quote("{{.Description.Hostname}}\t{{.Status.Addr}}\t{{.Status.State}}"))

  public static func parse(_ output: String, nodes: [String: String] = [:]) -> [SwarmTask] {
    output.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard fields.count >= 6, fields[0].count >= 10 else { return nil }
      let state = fields[4].split(separator: " ").first.map { $0.lowercased() } ?? ""
      let error = fields.count > 6 ? fields[6].trimmingCharacters(in: .whitespaces) : ""
      return SwarmTask(
        id: fields[0], name: fields[1].trimmingCharacters(in: CharacterSet(charactersIn: " \\_")),
        node: fields[2], address: nodes[fields[2]], desiredState: fields[3].lowercased(), state: state,
        image: fields[5], error: error.isEmpty ? nil : error)
    }
  }

  /// Host name → address, from `nodes`' output. `0.0.0.0` (a manager that advertises nothing) is
  /// left out: the caller knows the manager's address.
  public static func parseNodes(_ output: String) -> [String: String] {
    var result: [String: String] = [:]
    for line in output.split(separator: "\n") {
      let fields = line.split(separator: "\t").map(String.init)
      guard fields.count >= 2, fields[1] != "0.0.0.0", !fields[1].isEmpty else { continue }
      result[fields[0]] = fields[1]
    }
    return result
  }
}
