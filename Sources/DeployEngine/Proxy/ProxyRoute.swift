import DeployConfig
import Foundation

/// One app's route on a host's proxy, as deployctl keeps it on the host
/// (`/var/lib/deployctl/.proxy/routes/<app>@<env>.json`, docs/operations.md "The proxy"). The
/// proxy's whole configuration is rendered from every app's route (`CaddyConfig`), so several
/// apps share one proxy and each deploy changes only its own route.
public struct ProxyRoute: Codable, Sendable, Equatable {
  public var app: String
  public var environment: String
  /// Host names answered; empty: any.
  public var hosts: [String]
  public var pathPrefix: String?
  public var stripPrefix: Bool
  /// `off`, `auto` or `internal` (`ProxySpec.HTTPS`).
  public var https: String
  /// The container the route sends requests to, by its alias on the `deployctl` network
  /// (`<name>-<release>`), which stays the same when the container is renamed or restarted.
  public var container: String
  public var port: Int
  public var release: String
  /// The message the proxy answers with (503) while maintenance is on; nil: off.
  public var maintenance: String?
  public var responseTimeoutSeconds: Int
  public var updatedAt: Date

  public init(
    plan: ResolvedPlan, proxy: ProxySpec, container: String, release: String, maintenance: String? = nil,
    at date: Date = Date()
  ) {
    app = plan.app
    environment = plan.environment
    hosts = proxy.hosts
    pathPrefix = proxy.pathPrefix
    stripPrefix = proxy.stripPrefix
    https = proxy.https.rawValue
    self.container = container
    port = proxy.appPort
    self.release = release
    self.maintenance = maintenance
    responseTimeoutSeconds = Int(proxy.responseTimeout.components.seconds)
    updatedAt = HostStateJSON.millisecondDate(date)
  }

  /// `<app>@<env>`: the route's file name without `.json` (`@` is in neither name).
  public var key: String { "\(app)@\(environment)" }

  /// `host:port` as the proxy dials it.
  public var upstream: String { "\(container):\(port)" }

  /// What the route claims (`ProxySpec.claims`): two routes with a claim in common would take
  /// each other's requests.
  public var claims: [String] { ProxySpec.claims(hosts: hosts, pathPrefix: pathPrefix) }

  enum CodingKeys: String, CodingKey {
    case app, environment, hosts, https, container, port, release, maintenance
    case pathPrefix = "path_prefix"
    case stripPrefix = "strip_prefix"
    case responseTimeoutSeconds = "response_timeout_seconds"
    case updatedAt = "updated_at"
  }
}

/// What a host's proxy folder holds now: every app's route and the generation, which each
/// change bumps (a change made from an older reading is refused and made again: two deploys of
/// different apps on one host never undo each other's switch).
public struct ProxyRoutes: Sendable, Equatable {
  public var generation: Int
  public var routes: [ProxyRoute]
  /// Lines that were not a route (named in a note, never fatal: the rest still routes).
  public var unreadable: [String]

  public init(generation: Int = 0, routes: [ProxyRoute] = [], unreadable: [String] = []) {
    self.generation = generation
    self.routes = routes
    self.unreadable = unreadable
  }

  public func route(app: String, environment: String) -> ProxyRoute? {
    routes.first { $0.app == app && $0.environment == environment }
  }

  /// The routes with `route` in place of the app's own (nil: without it).
  public func replacing(app: String, environment: String, with route: ProxyRoute?) -> [ProxyRoute] {
    routes.filter { !($0.app == app && $0.environment == environment) } + (route.map { [$0] } ?? [])
  }

  /// Another app's route that claims what `route` claims, if any.
  public func conflict(with route: ProxyRoute) -> (ProxyRoute, claim: String)? {
    for other in routes where other.key != route.key {
      if let claim = other.claims.first(where: route.claims.contains) { return (other, claim) }
    }
    return nil
  }

  /// Reads `ProxyScripts.readRoutes`' output: `generation N`, then one route per line.
  public static func parse(_ output: String) -> ProxyRoutes {
    var result = ProxyRoutes()
    let decoder = HostStateJSON.decoder()
    for line in output.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
      if line.hasPrefix("generation ") {
        result.generation = Int(line.dropFirst("generation ".count).trimmingCharacters(in: .whitespaces)) ?? 0
        continue
      }
      do {
        result.routes.append(try decoder.decode(ProxyRoute.self, from: Data(line.utf8)))
      } catch {
        result.unreadable.append("\(line.prefix(80)): \(error)")
      }
    }
    result.routes.sort { $0.key < $1.key }
    return result
  }
}
