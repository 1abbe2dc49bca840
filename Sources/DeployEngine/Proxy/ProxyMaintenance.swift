import DeployConfig
import DeployTransport
import Foundation

/// `deployctl maintenance ENV on|off`: the app's route on every host's proxy answers 503 with a
/// message instead of reaching the app, or routes again (docs/commands.md "maintenance"). The
/// app's containers are not touched. Every host's route is read first: an app that has no
/// route on some host (never deployed there behind the proxy) is refused before any change.
/// Each change is written to the host's audit log, so `history` shows it.
public struct ProxyMaintenance: Sendable {
  public var plan: EnvironmentPlan
  public var progress: ProgressLog
  public var parallel: Int
  public var user: String

  public init(
    plan: EnvironmentPlan, progress: ProgressLog, parallel: Int? = nil, user: String = Invocation.user()
  ) {
    self.plan = plan
    self.progress = progress
    self.parallel = plan.readParallelism(parallel)
    self.user = user
  }

  /// What the proxy answers with when `--message` is not given.
  public static let defaultMessage = "Down for maintenance"

  /// Refuses, before any host is touched, a plan without `proxy:`.
  public static func check(_ plan: EnvironmentPlan) throws(RolloutError) {
    let without = plan.hosts.filter { $0.proxy == nil }
    guard let first = without.first else { return }
    throw .refused(
      "\(first.file): app \(plan.app) has no `proxy:` in \(plan.environment), so no proxy routes it and there is no maintenance page to show; add `proxy:` (docs/configuration.md \"proxy\") and deploy"
    )
  }

  /// Turns maintenance on (with `message`) or off on every host. Exit 0 when every host
  /// changed, 1 when one could not be read or changed (the others are changed), 2 when the app
  /// has no route on some host (nothing changed).
  public func run(on: Bool, message: String? = nil) async -> MaintenanceReport {
    let connections = SSHConnections()
    let report = await run(
      on: on, message: on ? (message ?? Self.defaultMessage) : nil, connections: connections)
    await connections.closeAll()
    return report
  }

  private func run(on: Bool, message text: String?, connections: SSHConnections) async -> MaintenanceReport {
    let readings = await FanOut.run(plan.hosts, parallel: parallel, name: { $0.host.name }) { host in
      try await RemoteHost.with(
        host.host.name, SSHTransport(target: host.host.sshTarget, connections: connections),
        progress: progress
      ) { remote in
        try await ProxyRouter(remote: remote, app: plan.app, environment: plan.environment).read()
      }
    }
    let unrouted = readings.filter {
      $0.value.map { $0.route(app: plan.app, environment: plan.environment) == nil } ?? false
    }
    if !unrouted.isEmpty {
      let names = unrouted.map(\.host)
      let error =
        "app \(plan.app) has no route on the proxy of \(names.joined(separator: ", ")): it was never deployed there with `proxy:`; deploy it first (deployctl deploy \(plan.environment) --image …). Nothing was changed."
      return MaintenanceReport(
        environment: plan.environment, app: plan.app, action: on ? "on" : "off", message: text,
        result: .refused,
        hosts: readings.map {
          MaintenanceHostReport(
            name: $0.host, maintenance: nil, error: names.contains($0.host) ? "no route for \(plan.app)" : nil
          )
        },
        error: error)
    }
    let runID = String(format: "%08x", UInt32.random(in: .min ... .max))
    var changes: [String: HostOutcome<MaintenanceHostReport>] = [:]
    let routed = plan.hosts.filter { host in
      readings.contains { $0.host == host.host.name && $0.value != nil }
    }
    for outcome in await FanOut.run(
      routed, parallel: parallel, name: { $0.host.name },
      { host in
        try await change(
          host, on: on, message: text, runID: runID, connections: connections,
          routes: readings.first { $0.host == host.host.name }?.value ?? ProxyRoutes())
      })
    {
      changes[outcome.host] = outcome
    }
    let hosts = readings.map { reading -> MaintenanceHostReport in
      if let error = reading.error {
        return MaintenanceHostReport(name: reading.host, maintenance: nil, error: String(describing: error))
      }
      guard let outcome = changes[reading.host] else {
        return MaintenanceHostReport(name: reading.host, maintenance: nil, error: "not changed")
      }
      let route = reading.value?.route(app: plan.app, environment: plan.environment)
      return outcome.value
        ?? MaintenanceHostReport(
          name: reading.host, maintenance: route.map { $0.maintenance != nil }, container: route?.container,
          release: route?.release, error: outcome.error.map { String(describing: $0) })
    }
    let failed = hosts.contains { $0.maintenance != on }
    return MaintenanceReport(
      environment: plan.environment, app: plan.app, action: on ? "on" : "off", message: text,
      result: failed ? .failed : .success, hosts: hosts)
  }

  /// One host: the app's route changed (from `routes`, read again if another run changed them
  /// since), then the audit line.
  private func change(
    _ host: ResolvedPlan, on: Bool, message: String?, runID: String, connections: SSHConnections,
    routes: ProxyRoutes
  ) async throws -> MaintenanceHostReport {
    let name = host.host.name
    let transport = SSHTransport(target: host.host.sshTarget, connections: connections)
    return try await RemoteHost.with(name, transport, progress: progress) { remote in
      let router = ProxyRouter(remote: remote, app: plan.app, environment: plan.environment, routes: routes)
      try await router.change(step: on ? "maintenance on" : "maintenance off") { current in
        guard var route = current else {
          throw ProxyError.refused(host: name, message: "app \(plan.app) no longer has a route on this proxy")
        }
        route.maintenance = message
        route.updatedAt = HostStateJSON.millisecondDate(Date())
        return route
      }
      let route = router.route
      let entry = AuditEntry(
        time: Date(), user: user, origin: ProcessInfo.processInfo.hostName,
        command: on ? .maintenanceOn : .maintenanceOff, environment: plan.environment,
        release: route?.release,
        image: nil, result: .succeeded, run: runID)
      // The route is changed either way; an audit line that could not be written is said.
      var auditError: String?
      do {
        let paths = try HostPaths(app: plan.app, environment: plan.environment)
        let audit = try await remote.exec(HostState.appendAudit(entry, paths), timeout: .seconds(30))
        if !audit.succeeded { auditError = "exit \(audit.exitStatus): \(audit.stderr)" }
      } catch {
        auditError = "\(error)"
      }
      return MaintenanceHostReport(
        name: name, maintenance: route?.maintenance != nil, container: route?.container,
        release: route?.release,
        error: auditError.map { "changed; not written to the audit log: \($0)" })
    }
  }
}
