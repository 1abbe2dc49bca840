import DeployConfig
import DeployTransport
import Foundation

/// Changes one app's route on one host's proxy: renders the whole configuration from every
/// app's route with this one changed, and loads it under the proxy's lock only if no other run
/// changed the routes since they were read (else reads them again, at most 5 times). Used by
/// blue-green deploys (`DockerHost`), `maintenance` and `proxy reboot`.
public final class ProxyRouter: Sendable {
  public let remote: RemoteHost
  public let app: String
  public let environment: String
  let paths: ProxyPaths
  private let reading: Locked<ProxyRoutes>

  public init(
    remote: RemoteHost, app: String, environment: String, routes: ProxyRoutes = ProxyRoutes(),
    paths: ProxyPaths = ProxyPaths()
  ) {
    self.remote = remote
    self.app = app
    self.environment = environment
    self.paths = paths
    reading = Locked(routes)
  }

  /// The routes as last read or written.
  public var routes: ProxyRoutes { reading.current }

  public var key: String { "\(app)@\(environment)" }

  /// The app's route now.
  public var route: ProxyRoute? { routes.route(app: app, environment: environment) }

  /// Reads the routes from the host.
  @discardableResult
  public func read(quiet: Bool = true) async throws -> ProxyRoutes {
    var script = RemoteScript()
    let section = script.section("proxy-routes", ProxyScripts.readRoutes(paths), failure: .isAnswer)
    let output = try await remote.run("read proxy routes", script, timeout: .seconds(30), quiet: quiet)
    let fresh = ProxyRoutes.parse(output[section]?.output ?? "")
    reading.withLock { $0 = fresh }
    return fresh
  }

  /// Takes a reading made elsewhere (prepare's script).
  public func use(_ routes: ProxyRoutes) { reading.withLock { $0 = routes } }

  /// Sets the app's route to what `make` returns for the current one (nil: removes it), as step
  /// `step`; `retiring`: the upstream it leaves, whose requests in flight `drain` will wait for
  /// (`CaddyConfig.serve` keeps it listed after the route's own in this change's configuration).
  public func change(
    step: String, retiring: String? = nil, quiet: Bool = false,
    _ make: @Sendable (ProxyRoute?) throws -> ProxyRoute?
  ) async throws {
    for _ in 0..<5 {
      let current = routes
      let route = try make(current.route(app: app, environment: environment))
      if let route, let (other, claim) = current.conflict(with: route) {
        throw ProxyError.routeTaken(
          host: remote.name, claim: claim, app: other.app, environment: other.environment)
      }
      let all = current.replacing(app: app, environment: environment, with: route)
      var script = RemoteScript()
      let change = script.section(
        "switch",
        ProxyScripts.change(
          key: key, route: route,
          config: CaddyConfig.render(all, retiring: retiring.map { [key: $0] } ?? [:]),
          generation: current.generation, paths: paths), failure: .isAnswer)
      let output = try await remote.run(step, script, timeout: .seconds(120), quiet: quiet)
      let result = output[change]
      if result?.status == ProxyScripts.staleExitStatus {
        try await read()
        continue
      }
      guard result?.succeeded == true else {
        throw ProxyError.refused(host: remote.name, message: result?.output ?? "no answer")
      }
      reading.withLock { $0 = ProxyRoutes(generation: current.generation + 1, routes: all) }
      return
    }
    throw ProxyError.refused(
      host: remote.name, message: "the proxy's routes kept changing under other deployctl runs; try again")
  }

  /// Waits until the proxy has no request in flight to `upstream`, at most `limit`: asked every
  /// 100 ms through the admin API. The switch that retired `upstream` named it in `retiring`, so
  /// the proxy still counts it; when it cannot tell (no count, or another run's load let the
  /// upstream go), waits a short fixed while instead.
  public func drain(_ upstream: String, limit: Duration) async {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    let remote = remote
    // The drain only delays the old container's stop; its failure is not the host's.
    _ = try? await remote.step("drain") {
      while clock.now < deadline {
        let result = try await remote.exec(ProxyScripts.upstreams(), timeout: .seconds(10))
        guard let inFlight = ProxyScripts.inFlight(upstream, in: result.stdout) else {
          try await Task.sleep(for: min(limit, .seconds(2)))
          return
        }
        if inFlight == 0 { return }
        try await Task.sleep(for: .milliseconds(100))
      }
    }
  }
}
