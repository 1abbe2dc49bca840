import DeployConfig
import Foundation

/// One host in `status` (docs/json.md "status").
public struct HostStatus: Codable, Sendable, Equatable {
  public var name: String
  public var reachable: Bool
  public var release: String?
  public var image: String?
  /// Docker's container state (`running`, `exited`, …) or `absent`.
  public var state: String
  /// `healthy`, `unhealthy`, `starting`, `none` (no check configured) or `unknown`.
  public var health: String
  public var error: String?
  /// `engine: swarm`: the service's tasks (node, state, health, image); this entry is the manager.
  @OmittedWhenNil public var tasks: [SwarmTask]? = nil
  /// With `proxy:`: the app's route on the host's proxy (docs/json.md "status").
  @OmittedWhenNil public var proxy: HostProxyStatus? = nil
  /// A plan with `roles:`: each role's container on this host; the host's `health` is the
  /// worst of theirs.
  @OmittedWhenNil public var roles: [RoleStatus]? = nil

  public init(
    name: String, reachable: Bool, release: String?, image: String?, state: String, health: String,
    error: String? = nil
  ) {
    self.name = name
    self.reachable = reachable
    self.release = release
    self.image = image
    self.state = state
    self.health = health
    self.error = error
  }

}

/// One role's container on a host (`status` of a plan with `roles:`).
public struct RoleStatus: Codable, Sendable, Equatable {
  public var name: String
  public var container: String
  public var release: String?
  public var state: String
  public var health: String

  public init(name: String, container: String, release: String?, state: String, health: String) {
    self.name = name
    self.container = container
    self.release = release
    self.state = state
    self.health = health
  }
}

public struct StatusReport: Codable, Sendable, Equatable {
  public var command: String = "status"
  public var environment: String
  public var app: String
  public var result: CommandResult
  public var exitCode: Int32
  public var hosts: [HostStatus]

  public init(environment: String, app: String, result: CommandResult, hosts: [HostStatus]) {
    self.environment = environment
    self.app = app
    self.result = result
    self.exitCode = result.exitStatus.rawValue
    self.hosts = hosts
  }

  enum CodingKeys: String, CodingKey {
    case command, environment, app, result, hosts
    case exitCode = "exit_code"
  }
}
