import DeployConfig
import DeployTransport
import Foundation

extension EnvironmentStatus {
  /// A host of a plan with `proxy:`: what `read` gives every host, plus the app's route on the
  /// host's proxy (`hosts[].proxy`), in the same round trip. The container publishes no host
  /// port, so its one probe goes to its address on the `deployctl` network through the host's
  /// SSH connection, as the deploy's check does: it judges the container itself, whatever the
  /// route says (maintenance, or a route to another container).
  func proxiedEntry(_ plan: ResolvedPlan, remote: RemoteHost) async throws -> Entry {
    let paths = try HostPaths(app: plan.app, environment: plan.environment)
    let name = plan.container.name
    let reading = try await remote.read(
      paths,
      observe: [
        ("container", DockerCommand.inspectContainer(name)),
        ("proxy-container", DockerCommand.inspectContainer(ProxyScripts.containerName)),
        ("proxy-routes", ProxyScripts.readRoutes(ProxyPaths())), ("address", ProxyScripts.address(of: name)),
      ], auditLines: auditLines)
    let container = try ContainerInfo.parseInspect(reading["container"])
    let proxyContainer = try ContainerInfo.parseInspect(reading["proxy-container"])
    let routes = ProxyRoutes.parse(reading["proxy-routes"]?.output ?? "")
    let snapshot = HostSnapshot(releases: reading.releases, container: container)
    var health = "unknown"
    var problem: String?
    if let container, container.running {
      let address = reading["address"].flatMap { $0.succeeded ? $0.lastLine : nil } ?? ""
      if plan.health == nil {
        health = container.health?.status.rawValue ?? "none"
      } else if address.isEmpty {
        health = "unhealthy"
        problem =
          "\(name) has no address on the \(ProxyScripts.network) network, so the proxy cannot reach it"
      } else {
        var single = plan
        single.health?.retries = 1
        single.health?.startPeriod = .zero
        let gate = HealthGate(
          containerAddress: address, spec: single.health, address: plan.host.address, containerName: name,
          ports: [], startedID: nil, inspect: { try await remote.inspect(name) },
          forward: { port, host in try await remote.forward(remotePort: port, remoteHost: host) })
        let report = try await gate.check(stop: StopRequest())
        health = report.healthy ? "healthy" : "unhealthy"
        if !report.healthy { problem = report.lastResults.last?.result.reason ?? report.reason }
      }
    } else {
      health = container == nil ? "none" : "unhealthy"
    }
    let current = snapshot.current.flatMap { record in container?.release == record.id ? record : nil }
    var status = HostStatus(
      name: plan.host.name, reachable: true, release: snapshot.releases.current,
      image: snapshot.current?.image ?? container?.image, state: container?.status ?? "absent", health: health
    )
    status.proxy = HostProxyStatus(
      running: proxyContainer?.running == true,
      route: routes.route(app: plan.app, environment: plan.environment))
    return Entry(status: status, current: current, healthProblem: problem, audit: reading.audit)
  }
}
