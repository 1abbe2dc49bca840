import DeployConfig
import DeployEngine
import DeployTransport
import Foundation

/// `deployctl lock ENV status|release --force`: the lock as each host holds it.
public struct LockCommand: Sendable {
  public var plan: EnvironmentPlan
  public var progress: ProgressLog

  public init(plan: EnvironmentPlan, progress: ProgressLog) {
    self.plan = plan
    self.progress = progress
  }

  /// The report types live with every other report (DeployEngine/Reports/LockReport.swift).
  public typealias Report = LockReport
  public typealias HostLockState = LockHostState

  /// Reads (or with `release`, breaks) the lock on every host. Exit 0 when free (or broken),
  /// 4 when held, 1 when a host could not be read.
  public func run(release: Bool, user: String) async -> Report {
    let connections = SSHConnections()
    let outcomes = await FanOut.run(
      plan.hosts, parallel: plan.readParallelism(), name: { $0.host.name }
    ) { plan in
      // Single commands on their own channels: the lock is read or broken in one exchange.
      let transport = SSHTransport(target: plan.host.sshTarget, connections: connections)
      let paths = try HostPaths(app: plan.app, environment: plan.environment)
      if release {
        let result = try await transport.exec(HostLock.forceRelease(paths), timeout: .seconds(30))
        guard result.succeeded else {
          throw RolloutError.stepFailed(
            host: plan.host.name, step: "lock release", exitStatus: result.exitStatus, output: result.stderr
          )
        }
        let entry = AuditEntry(
          time: Date(), user: user, origin: ProcessInfo.processInfo.hostName, command: .lockRelease,
          environment: plan.environment, release: nil, image: nil, result: .succeeded)
        switch try HostLock.parseRelease(result.stdout) {
        case .broken(let holder):
          // The lock is broken either way; an audit line that could not be written is said.
          var auditError: String?
          do {
            let audit = try await transport.exec(HostState.appendAudit(entry, paths), timeout: .seconds(30))
            if !audit.succeeded {
              auditError = "exit \(audit.exitStatus): \(audit.stderr)"
            }
          } catch {
            auditError = "\(error)"
          }
          return HostLockState(
            name: plan.host.name, state: "broken", holder: holder?.summary,
            error: auditError.map { "not written to the audit log: \($0)" })
        default:
          return HostLockState(name: plan.host.name, state: "free")
        }
      }
      let result = try await transport.exec(HostLock.status(paths), timeout: .seconds(30))
      guard result.succeeded else {
        throw RolloutError.stepFailed(
          host: plan.host.name, step: "lock status", exitStatus: result.exitStatus, output: result.stderr)
      }
      switch try HostLock.parseStatus(result.stdout) {
      case .free: return HostLockState(name: plan.host.name, state: "free")
      case .held(let holder, let expiresIn):
        return HostLockState(
          name: plan.host.name, state: "held", holder: holder?.summary ?? "unknown holder",
          expiresIn: expiresIn, renewing: expiresIn.map { $0 > 0 })
      }
    }
    await connections.closeAll()
    let hosts = outcomes.map { outcome in
      outcome.value
        ?? HostLockState(name: outcome.host, state: "unknown", error: outcome.error.map { "\($0)" })
    }
    let locked = hosts.contains { $0.state == "held" }
    let status: ExitStatus =
      hosts.contains { $0.state == "unknown" } ? .failedRestored : locked ? .locked : .success
    return Report(
      environment: plan.environment, app: plan.app, action: release ? "release" : "status", locked: locked,
      result: CommandResult(status), exitCode: status.rawValue, hosts: hosts)
  }
}

/// `deployctl lock ENV status|release [--force]`.
public struct LockCommandLine: EnvironmentCommand {
  public static let name = "lock"
  public var environment: String
  public var action: LockAction
  public var force: Bool
  public var selection: ProjectSelection

  public init(environment: String, action: LockAction, force: Bool = false, selection: ProjectSelection) {
    self.environment = environment
    self.action = action
    self.force = force
    self.selection = selection
  }

  public func run(_ plan: EnvironmentPlan, on console: CommandConsole) async -> CommandExit {
    let report = await LockCommand(plan: plan, progress: console.progress()).run(action)
    return console.finish(report)
  }
}
