import DeployConfig
import Foundation

/// One host's lock, as `deployctl lock ENV status|release` reports it.
public struct LockHostState: Codable, Sendable {
  public var name: String
  /// `free`, `held`, `broken` (released by --force) or `unknown` (unreachable).
  public var state: String
  @OmittedWhenNil public var holder: String? = nil
  /// Seconds until the lease expires (negative: expired that long ago), by the host's clock.
  @OmittedWhenNil public var expiresIn: Int? = nil
  /// Whether the holder is still renewing its lease (false: the next run takes the lock over).
  @OmittedWhenNil public var renewing: Bool? = nil
  @OmittedWhenNil public var error: String? = nil

  public init(
    name: String, state: String, holder: String? = nil, expiresIn: Int? = nil, renewing: Bool? = nil,
    error: String? = nil
  ) {
    self.name = name
    self.state = state
    self.holder = holder
    self.expiresIn = expiresIn
    self.renewing = renewing
    self.error = error
  }

  enum CodingKeys: String, CodingKey {
    case name, state, holder, renewing, error
    case expiresIn = "expires_in_s"
  }
}

/// The JSON document of `deployctl lock`.
public struct LockReport: Codable, Sendable {
  public var command = "lock"
  public var environment: String
  public var app: String
  public var action: String
  public var locked: Bool
  public var result: CommandResult
  public var exitCode: Int32
  public var hosts: [LockHostState]

  public init(
    environment: String, app: String, action: String, locked: Bool, result: CommandResult, exitCode: Int32,
    hosts: [LockHostState]
  ) {
    self.environment = environment
    self.app = app
    self.action = action
    self.locked = locked
    self.result = result
    self.exitCode = exitCode
    self.hosts = hosts
  }

  enum CodingKeys: String, CodingKey {
    case command, environment, app, action, locked, result, hosts
    case exitCode = "exit_code"
  }
}
