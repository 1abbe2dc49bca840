import DeployConfig
import DeployEngine
import Foundation

import struct DeployConfig.Host

/// `deployctl proxy ENV status|reboot`.
public enum ProxyAction: String, CaseIterable, Sendable {
  case status
  case reboot
}

/// `deployctl proxy status ENV`: every host's proxy (running, image, ports) and every app's
/// route on it. Reads the inventory's hosts only, so it needs no `--app`: the proxy is shared
/// by every app on a host.
public struct ProxyStatusCommand: Sendable {
  public static let name = "proxy"
  public var environment: String
  public var selection: ProjectSelection

  public init(environment: String, selection: ProjectSelection) {
    self.environment = environment
    self.selection = selection
  }

  public func run(on console: CommandConsole) async -> CommandExit {
    let hosts: [Host]
    do {
      try selection.check()
      let inventory = try selection.loadProject().inventory(named: environment)
      hosts = try selection.hosts(of: inventory)
    } catch {
      return console.fail(error, command: Self.name, environment: environment, app: selection.app)
    }
    let report = await EnvironmentProxy(environment: environment, progress: console.progress())
      .status(of: hosts, parallel: selection.parallel)
    return console.finish(report)
  }
}

/// `deployctl proxy reboot ENV`: each host's proxy container replaced in turn by one from the
/// plan's `proxy.image` and ports, routes kept. It takes the proxy's own lock on each host (the
/// one every route change takes), not the app's deploy lock: the proxy is shared by every app
/// on the host, so a deploy of any app waits for the replacement before it switches its route.
public struct ProxyRebootCommand: Sendable {
  public static let name = "proxy"
  public var environment: String
  public var selection: ProjectSelection

  public init(environment: String, selection: ProjectSelection) {
    self.environment = environment
    self.selection = selection
  }

  public func run(on console: CommandConsole) async -> CommandExit {
    var login: RegistryLogin?
    let loaded = selection.plan(environment, for: Self.name, on: console) { plan in
      try EnvironmentProxy.check(plan)
      login = try plan.registry?.login(for: plan.image, environment: selection.environment)
    }
    switch loaded {
    case .success(let plan): return await reboot(plan, login: login, on: console)
    case .failure(let exit): return exit
    }
  }

  private func reboot(_ plan: EnvironmentPlan, login: RegistryLogin?, on console: CommandConsole) async
    -> CommandExit
  {
    let progress = console.progress(secrets: login.map { [$0.password] } ?? [])
    await progress.say(
      "proxy reboot \(environment): one host at a time; each host has a short gap (about a second) while its proxy restarts, routes kept"
    )
    let report = await EnvironmentProxy(environment: environment, progress: progress).reboot(
      plan, login: login)
    return console.finish(report, secrets: login.map { [$0.password] } ?? [])
  }
}

/// `deployctl maintenance ENV on|off [--message TEXT]`: the app's route on every host's proxy
/// answers 503 with the message, or routes to the app again.
public struct MaintenanceCommand: Sendable {
  public static let name = "maintenance"
  public var environment: String
  public var on: Bool
  public var message: String?
  public var selection: ProjectSelection

  public init(environment: String, on: Bool, message: String? = nil, selection: ProjectSelection) {
    self.environment = environment
    self.on = on
    self.message = message
    self.selection = selection
  }

  public func run(on console: CommandConsole) async -> CommandExit {
    switch selection.plan(environment, for: Self.name, on: console, then: { try ProxyMaintenance.check($0) })
    {
    case .success(let plan):
      let report = await ProxyMaintenance(
        plan: plan, progress: console.progress(), parallel: selection.parallel
      )
      .run(on: on, message: message)
      return console.finish(report)
    case .failure(let exit):
      return exit
    }
  }
}

extension ProxyReport: CommandOutcome {
  /// Per host: the proxy (running, image, ports) and a line per route.
  public func printSummary(on console: CommandConsole, masker: SecretMasker) {
    let out = console.format == .text ? console.standardOutput : console.terminal
    for host in hosts {
      guard host.reachable else {
        let why = host.result == "skipped" ? "skipped: an earlier host failed" : host.error ?? "unreachable"
        out.line(masker.mask("\(host.name): \(why.firstLine)"))
        continue
      }
      var line = "\(host.name): proxy \(host.running ? "running" : host.state)"
      if let image = host.image { line += ", \(image)" }
      if !host.ports.isEmpty { line += ", ports \(host.ports.joined(separator: " "))" }
      if let result = host.result {
        line += "; \(result)" + (host.gapMs.map { " (gap \($0) ms)" } ?? "")
      }
      out.line(masker.mask(line))
      if let error = host.error { out.line(masker.mask("  error: \(error)")) }
      let rows = host.routes.map { route in
        [
          "  \(route.app)@\(route.environment)",
          (route.hosts.isEmpty ? "*" : route.hosts.joined(separator: ",")) + (route.pathPrefix ?? "/"),
          "→ \(route.container)", route.release,
          route.maintenance ? "maintenance: \(route.maintenanceMessage ?? "")" : "",
        ]
      }
      if rows.isEmpty {
        out.line("  (no routes)")
      } else {
        for row in TextTable.lines(["  ROUTE", "MATCHES", "CONTAINER", "RELEASE", ""], rows) {
          out.line(masker.mask(row))
        }
      }
    }
    if let error { console.terminal.error(masker.mask(error)) }
  }
}

extension MaintenanceReport: CommandOutcome {
  public func printSummary(on console: CommandConsole, masker: SecretMasker) {
    let terminal = console.terminal
    for host in hosts {
      let state = host.maintenance.map { $0 ? "maintenance on" : "maintenance off" } ?? "unchanged"
      terminal.line(masker.mask("\(host.name): \(state)" + (host.error.map { " (\($0.firstLine))" } ?? "")))
    }
    if let error { terminal.error(masker.mask(error)) }
    let line =
      "maintenance \(action) \(environment) (\(app)): \(result.rawValue)"
      + (action == "on" && result == .success ? "; the proxy answers 503 \"\(message ?? "")\"" : "")
    terminal.line(result == .success ? terminal.paint(line, .green) : terminal.paint(line, .red))
  }
}
