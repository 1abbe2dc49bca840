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

/// Reading tasks and nodes on a manager. A task is placed on its node by the node's ID, never by
/// host name: nodes cloned from one image often share a host name.
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

  /// Each task's ID and its node's ID (`--no-resolve`: `.Node` is the ID, not the host name).
  public static func placements(_ service: String) -> RemoteCommand {
    RemoteCommand([
      "docker", "service", "ps", "--no-trunc", "--no-resolve", "--format", "{{.ID}}\(separator){{.Node}}",
      service,
    ])
  }

  /// Every node: ID, host name, address, state.
  public static let nodes = RemoteCommand(["docker", "node", "ls", "-q"]).piped(
    to: RemoteCommand([
      "xargs", "docker", "node", "inspect", "--format",
      ["{{.ID}}", "{{.Description.Hostname}}", "{{.Status.Addr}}", "{{.Status.State}}"].joined(
        separator: separator),
    ]))

  /// The named commands that read a service's tasks with their nodes' addresses (for
  /// `RemoteHost.observe` and `read`); read their output with `parse(_:)`.
  public static func reading(_ service: String) -> [(String, RemoteCommand)] {
    [("tasks", list(service)), ("placements", placements(service)), ("nodes", nodes)]
  }

  /// The tasks from `reading`'s sections.
  public static func parse(_ sections: [String: RemoteScriptOutput.Section]) -> [SwarmTask] {
    parse(
      sections["tasks"]?.output ?? "", placements: parsePlacements(sections["placements"]?.output ?? ""),
      nodes: parseNodes(sections["nodes"]?.output ?? ""))
  }

  /// Tasks from `list`'s output; `placements` (task ID → node ID) and `nodes` give each its node's
  /// address.
  public static func parse(_ output: String, placements: [String: String] = [:], nodes: [Node] = [])
    -> [SwarmTask]
  {
    let byID = Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    return output.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard fields.count >= 6, fields[0].count >= 10 else { return nil }
      let state = fields[4].split(separator: " ").first.map { $0.lowercased() } ?? ""
      let error = fields.count > 6 ? fields[6].trimmingCharacters(in: .whitespaces) : ""
      let node = placements[fields[0]].flatMap { byID[$0] }
      return SwarmTask(
        id: fields[0], name: fields[1].trimmingCharacters(in: CharacterSet(charactersIn: " \\_")),
        node: fields[2], address: node?.address, desiredState: fields[3].lowercased(), state: state,
        image: fields[5], error: error.isEmpty ? nil : error)
    }
  }

  /// Task ID → node ID, from `placements`' output.
  public static func parsePlacements(_ output: String) -> [String: String] {
    var result: [String: String] = [:]
    for line in output.split(separator: "\n") {
      let fields = line.split(separator: "\t").map(String.init)
      guard fields.count == 2 else { continue }
      result[fields[0]] = fields[1]
    }
    return result
  }

  /// A node of the swarm.
  public struct Node: Sendable, Equatable {
    public var id: String
    public var hostname: String
    /// nil for `0.0.0.0` (a manager that advertises nothing): the caller knows the manager's
    /// address.
    public var address: String?
  }

  /// The nodes in `nodes`' output.
  public static func parseNodes(_ output: String) -> [Node] {
    output.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard fields.count >= 3, !fields[0].isEmpty else { return nil }
      let address = fields[2]
      return Node(
        id: fields[0], hostname: fields[1], address: address.isEmpty || address == "0.0.0.0" ? nil : address)
    }
  }

  /// When every task of `image` that Swarm tried was rejected (at least `replicas` of them, none
  /// running) with one and the same error, that error: Swarm will go on trying, and failing, until
  /// the plan changes (a bind source missing on the nodes).
  public static func rejection(_ tasks: [SwarmTask], image: String, replicas: Int) -> String? {
    let tried = tasks.filter { $0.image == image }
    guard !tried.contains(where: \.isRunning) else { return nil }
    let rejected = tried.filter { $0.state == "rejected" }
    let errors = Set(rejected.compactMap(\.error))
    guard rejected.count >= max(1, replicas), errors.count == 1, let error = errors.first,
      rejected.allSatisfy({ $0.error != nil })
    else { return nil }
    return error
  }
}
