import DeployConfig
import DeployTransport
import Foundation

import struct DeployConfig.Host

/// The proxies of an environment's hosts (`deployctl proxy status|reboot`): each host's one
/// proxy container, shared by every app deployed there behind it (docs/operations.md "The
/// proxy").
public struct EnvironmentProxy: Sendable {
  public var environment: String
  public var progress: ProgressLog

  public init(environment: String, progress: ProgressLog) {
    self.environment = environment
    self.progress = progress
  }

  /// Every host's proxy: its container and every app's route. Exit 0 when every host answered,
  /// 1 when one could not be read.
  public func status(of hosts: [Host], parallel: Int? = nil) async -> ProxyReport {
    let connections = SSHConnections()
    let outcomes = await FanOut.run(
      hosts, parallel: max(1, parallel ?? min(max(hosts.count, 1), 64)), name: { $0.name }
    ) { host in
      try await RemoteHost.with(
        host.name, SSHTransport(target: host.sshTarget, connections: connections), progress: progress
      ) { remote in
        ProxyHostReport(name: host.name, try await remote.readProxy())
      }
    }
    await connections.closeAll()
    let reports = outcomes.map { outcome in
      outcome.value
        ?? ProxyHostReport(name: outcome.host, reachable: false, error: outcome.error.map { "\($0)" })
    }
    return ProxyReport(
      action: "status", environment: environment,
      result: reports.allSatisfy(\.reachable) ? .success : .failed,
      hosts: reports)
  }

  /// Refuses, before any host is touched, a plan without `proxy:` on some host.
  public static func check(_ plan: EnvironmentPlan) throws(RolloutError) {
    guard let without = plan.hosts.first(where: { $0.proxy == nil }) else { return }
    throw .refused(
      "\(without.file): app \(plan.app) has no `proxy:` in \(plan.environment) (host \(without.host.name)): `proxy reboot` takes the proxy's image and ports from it; add `proxy:` (docs/configuration.md \"proxy\") or choose an app that has it with --app"
    )
  }

  /// Replaces each host's proxy container, one host at a time, with one from the plan's
  /// `proxy.image` and ports: pulled first, then the old one stopped and the new one started on
  /// the same routes. Each host's proxy is down for a short gap (`gap_ms`); the next host starts
  /// only when this one's proxy takes its configuration. The first host that fails stops the
  /// run (its old proxy is started again); the rest are `skipped`. Exit 0 when every host's
  /// proxy was replaced, 1 otherwise.
  public func reboot(_ plan: EnvironmentPlan, login: RegistryLogin?) async -> ProxyReport {
    let connections = SSHConnections()
    var reports: [ProxyHostReport] = []
    var failed = false
    for host in plan.hosts {
      guard !failed, let proxy = host.proxy else {
        var skipped = ProxyHostReport(name: host.host.name, reachable: false)
        skipped.result = "skipped"
        reports.append(skipped)
        continue
      }
      do {
        let transport = SSHTransport(target: host.host.sshTarget, connections: connections)
        reports.append(
          try await RemoteHost.with(host.host.name, transport, progress: progress) { remote in
            try await reboot(remote, proxy: proxy, login: login)
          })
      } catch {
        failed = true
        var report = ProxyHostReport(name: host.host.name, reachable: true, error: "\(error)")
        report.result = "failed"
        if let reading = try? await readAfterFailure(host, connections: connections) {
          // What runs there now, when it can still be read: the old proxy, started again.
          report = ProxyHostReport(name: host.host.name, reading)
          report.error = "\(error)"
          report.result = "failed"
        }
        reports.append(report)
      }
    }
    await connections.closeAll()
    return ProxyReport(
      action: "reboot", environment: environment, result: failed ? .failed : .success, hosts: reports)
  }

  private func reboot(_ remote: RemoteHost, proxy: ProxySpec, login: RegistryLogin?) async throws
    -> ProxyHostReport
  {
    let paths = ProxyPaths()
    let before = try await remote.readProxy(paths: paths)
    var prepare = RemoteScript()
    prepare.section(
      "pull", ProxyScripts.prepareReboot(proxy, routes: before.routes.routes, paths: paths, login: login))
    _ = try await remote.run("pull \(proxy.image)", prepare, timeout: .seconds(900))
    await progress.host(
      remote.name, "replace proxy",
      .note("the proxy stops and the new one starts: requests to this host fail for a short gap"))
    var replace = RemoteScript()
    let replaced = replace.section("replace", ProxyScripts.replace(proxy, paths: paths))
    let output = try await remote.run("replace proxy", replace, timeout: .seconds(180))
    var report = ProxyHostReport(name: remote.name, try await remote.readProxy(paths: paths))
    report.result = "replaced"
    report.gapMs = ProxyScripts.gapMilliseconds(output[replaced]?.output ?? "")
    return report
  }

  private func readAfterFailure(_ host: ResolvedPlan, connections: SSHConnections) async throws
    -> ProxyHostReading
  {
    let transport = SSHTransport(target: host.host.sshTarget, connections: connections)
    return try await RemoteHost.with(host.host.name, transport, progress: progress) { remote in
      try await remote.readProxy()
    }
  }
}
