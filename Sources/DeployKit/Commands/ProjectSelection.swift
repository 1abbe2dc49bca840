import DeployConfig
import DeployEngine
import Foundation

import struct DeployConfig.Host

/// What the common options choose (`--inventories`, `--playbooks`, `--app`, `--limit`,
/// `--parallel`), and the prologue every command shares: load the project, pick the
/// environment and the plan, keep the `--limit` hosts.
public struct ProjectSelection: Sendable {
  public var inventoriesDirectory: String
  public var playbooksDirectory: String
  public var app: String?
  /// `--limit a,b --limit c`, as given.
  public var limit: [String]
  public var parallel: Int?
  /// deployctl's own environment, where secret values come from.
  public var environment: [String: String]

  public init(
    inventoriesDirectory: String = "./inventories", playbooksDirectory: String = "./playbooks",
    app: String? = nil, limit: [String] = [], parallel: Int? = nil,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) {
    self.inventoriesDirectory = inventoriesDirectory
    self.playbooksDirectory = playbooksDirectory
    self.app = app
    self.limit = limit
    self.parallel = parallel
    self.environment = environment
  }

  /// `--limit a,b --limit c` as `[a, b, c]`.
  public var limitedHosts: [String] {
    limit.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
      .filter { !$0.isEmpty }
  }

  /// Bad common options, refused before anything runs.
  public func check() throws(RolloutError) {
    if let parallel, parallel < 1 { throw .refused("--parallel must be at least 1, got \(parallel)") }
  }

  /// Every inventory and plan, loaded and checked (`ConfigErrors`, exit 2, when anything is wrong).
  public func loadProject() throws(ConfigErrors) -> Project {
    try Project.load(inventoriesDirectory: inventoriesDirectory, playbooksDirectory: playbooksDirectory)
  }

  /// The plan of `--app` for environment `name`, limited to `--limit` hosts.
  public func environmentPlan(_ name: String) throws -> EnvironmentPlan {
    let project = try loadProject()
    let inventory = try project.inventory(named: name)
    return try project.plan(app: app).resolved(for: inventory).limited(to: limitedHosts)
  }

  /// The prologue every command shares: the common options checked, the project loaded, the
  /// environment's plan resolved, then `more` (the command's own checks). On failure the error
  /// is printed (with `--output json` as a document) and the command ends with its exit.
  public func plan(
    _ environment: String, for command: String, on console: CommandConsole,
    then more: (EnvironmentPlan) throws -> Void = { _ in }
  ) -> Result<EnvironmentPlan, CommandExit> {
    do {
      try check()
      let plan = try environmentPlan(environment)
      try more(plan)
      return .success(plan)
    } catch {
      return .failure(console.fail(error, command: command, environment: environment, app: app))
    }
  }

  /// The inventory's hosts named by `--limit` (all without it); an unknown name is refused.
  public func hosts(of inventory: Inventory) throws(RolloutError) -> [Host] {
    let limit = limitedHosts
    let unknown = limit.filter { inventory.host(named: $0) == nil }
    if !unknown.isEmpty {
      throw .refused(
        "--limit: no host \(unknown.joined(separator: ", ")) in \(inventory.file); hosts: "
          + inventory.hosts.map(\.name).joined(separator: ", "))
    }
    return inventory.hosts.filter { limit.isEmpty || limit.contains($0.name) }
  }

  /// The values of the plan's secrets, from deployctl's own environment.
  public func secrets(for plan: EnvironmentPlan) -> [String: String] {
    let names = Set(plan.hosts.flatMap(\.container.secrets))
    return environment.filter { names.contains($0.key) }
  }
}
