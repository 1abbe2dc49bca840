import DeployConfig
import Foundation

/// One app's route on a host's proxy, as `proxy status` shows it (docs/json.md "proxy status").
public struct ProxyRouteReport: Codable, Sendable, Equatable {
  public var app: String
  public var environment: String
  /// Host names answered; empty: any.
  public var hosts: [String]
  public var pathPrefix: String?
  /// The container the proxy sends the app's requests to (`<name>-<release>`).
  public var container: String
  public var release: String
  /// Whether the proxy answers 503 with `maintenance_message` instead of routing.
  public var maintenance: Bool
  public var maintenanceMessage: String?

  public init(_ route: ProxyRoute) {
    app = route.app
    environment = route.environment
    hosts = route.hosts
    pathPrefix = route.pathPrefix
    container = route.container
    release = route.release
    maintenance = route.maintenance != nil
    maintenanceMessage = route.maintenance
  }

  enum CodingKeys: String, CodingKey {
    case app, environment, hosts, container, release, maintenance
    case pathPrefix = "path_prefix"
    case maintenanceMessage = "maintenance_message"
  }
}

/// One host's proxy in `proxy status` and `proxy reboot`.
public struct ProxyHostReport: Codable, Sendable, Equatable {
  public var name: String
  public var reachable: Bool
  /// Whether the proxy container runs.
  public var running: Bool
  /// Docker's state of the proxy container (`running`, `exited`, …), `absent` or `unknown`.
  public var state: String
  public var image: String?
  /// Published ports as `host:container`.
  public var ports: [String]
  /// Every app's route on this host's proxy, whichever plan it belongs to.
  public var routes: [ProxyRouteReport]
  public var error: String?
  /// `proxy reboot`: `replaced`, `failed` or `skipped` (not tried: an earlier host failed).
  @OmittedWhenNil public var result: String? = nil
  /// `proxy reboot`: how long the host's proxy was down (from its stop to the new one taking its
  /// configuration), in milliseconds.
  @OmittedWhenNil public var gapMs: Int? = nil

  public init(
    name: String, reachable: Bool, running: Bool = false, state: String = "unknown", image: String? = nil,
    ports: [String] = [], routes: [ProxyRouteReport] = [], error: String? = nil
  ) {
    self.name = name
    self.reachable = reachable
    self.running = running
    self.state = state
    self.image = image
    self.ports = ports
    self.routes = routes
    self.error = error
  }

  public init(name: String, _ reading: ProxyHostReading) {
    self.init(
      name: name, reachable: true, running: reading.running, state: reading.container?.status ?? "absent",
      image: reading.container?.image, ports: reading.ports,
      routes: reading.routes.routes.map(ProxyRouteReport.init))
  }

  enum CodingKeys: String, CodingKey {
    case name, reachable, running, state, image, ports, routes, error, result
    case gapMs = "gap_ms"
  }
}

/// The JSON document of `deployctl proxy status` and `deployctl proxy reboot`.
public struct ProxyReport: Codable, Sendable, Equatable {
  public var command = "proxy"
  /// `status` or `reboot`.
  public var action: String
  public var environment: String
  public var result: CommandResult
  public var exitCode: Int32
  public var hosts: [ProxyHostReport]
  /// `reboot`: why nothing was done (e.g. the plan has no `proxy:`).
  public var error: String?

  public init(
    action: String, environment: String, result: CommandResult, hosts: [ProxyHostReport], error: String? = nil
  ) {
    self.action = action
    self.environment = environment
    self.result = result
    exitCode = result.exitStatus.rawValue
    self.hosts = hosts
    self.error = error
  }

  enum CodingKeys: String, CodingKey {
    case command, action, environment, result, hosts, error
    case exitCode = "exit_code"
  }
}

/// The app's route on one host after `deployctl maintenance`.
public struct MaintenanceHostReport: Codable, Sendable, Equatable {
  public var name: String
  /// Whether maintenance is on there now (nil: unknown, the host could not be read or changed).
  public var maintenance: Bool?
  /// The container the route sends requests to when maintenance is off.
  public var container: String?
  public var release: String?
  public var error: String?

  public init(
    name: String, maintenance: Bool?, container: String? = nil, release: String? = nil, error: String? = nil
  ) {
    self.name = name
    self.maintenance = maintenance
    self.container = container
    self.release = release
    self.error = error
  }
}

/// The JSON document of `deployctl maintenance`.
public struct MaintenanceReport: Codable, Sendable, Equatable {
  public var command = "maintenance"
  public var environment: String
  public var app: String
  /// `on` or `off`.
  public var action: String
  /// What the proxy answers with (503) while maintenance is on; null for `off`.
  public var message: String?
  public var result: CommandResult
  public var exitCode: Int32
  public var hosts: [MaintenanceHostReport]
  public var error: String?

  public init(
    environment: String, app: String, action: String, message: String?, result: CommandResult,
    hosts: [MaintenanceHostReport], error: String? = nil
  ) {
    self.environment = environment
    self.app = app
    self.action = action
    self.message = message
    self.result = result
    exitCode = result.exitStatus.rawValue
    self.hosts = hosts
    self.error = error
  }

  enum CodingKeys: String, CodingKey {
    case command, environment, app, action, message, result, hosts, error
    case exitCode = "exit_code"
  }
}

/// The app's route on a host, in `status` (`hosts[].proxy`, docs/json.md "status").
public struct HostProxyStatus: Codable, Sendable, Equatable {
  /// Whether the host's proxy container runs.
  public var running: Bool
  /// The container the proxy routes the app to (nil: the app has no route on this host yet).
  public var container: String?
  public var release: String?
  public var maintenance: Bool
  public var maintenanceMessage: String?

  public init(running: Bool, route: ProxyRoute?) {
    self.running = running
    container = route?.container
    release = route?.release
    maintenance = route?.maintenance != nil
    maintenanceMessage = route?.maintenance
  }

  enum CodingKeys: String, CodingKey {
    case running, container, release, maintenance
    case maintenanceMessage = "maintenance_message"
  }
}
