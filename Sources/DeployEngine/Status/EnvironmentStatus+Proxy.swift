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
    let address = reading["address"].flatMap { $0.succeeded ? $0.lastLine : nil } ?? ""
    let (health, problem) = try await Self.probe(container, plan, remote: remote, ports: [], address: address)
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
