import DeployConfig
import DeployTransport
import Foundation

/// The health checks that ask Docker rather than a port (docs/configuration.md "Health checks
/// without HTTP"): `cmd:` runs a command in the container, `running:` waits for the container to
/// have been up that long with no restart, `docker: true` reads the image's own HEALTHCHECK. Each
/// goes through `HealthCheck` like `http:`, so a crash is caught by the same liveness checks.
extension HealthGate {
  /// Runs a command on the host, on a channel of its own (a health probe must not wait for the
  /// host's shell, nor leave it busy when it times out).
  typealias HostExec = @Sendable (_ command: RemoteCommand, _ timeout: Duration) async throws -> ExecResult

  /// The probe for a check that needs no port (`http:` goes through `PortReach`). A check with
  /// no verdict yet (`running:` not up long enough, Docker's `starting`) is pending: it does not
  /// count towards `retries`, and the liveness checks still catch a crash at once.
  func containerProbe(_ kind: HealthSpec.Probe) throws -> HealthCheck.Probe {
    let inspect = inspect
    let name = containerName
    switch kind {
    case .http:
      throw HealthError.invalidPolicy("an `http:` check is probed at its port, not through Docker")
    case .docker:
      return { _ in
        guard let info = try await inspect() else { return .unhealthy("the container was removed") }
        guard let verdict = info.dockerHealthVerdict else { return .unhealthy(Self.noHealthcheck(name)) }
        // Docker's own retries decide when `starting` becomes `unhealthy`.
        return info.health?.status == .starting ? .pending(verdict.reason) : verdict
      }
    case .cmd(let argv):
      guard let exec else {
        throw HealthError.invalidPolicy("`health.cmd` needs a host to run the command on")
      }
      let command = RemoteCommand(["docker", "exec", name] + argv)
      let shown = ShellQuote.join(argv)
      return { timeout in
        let result = try await exec(command, timeout)
        return Self.verdict(of: result, shown)
      }
    case .running(let up):
      let began = ContinuousClock.now
      // Measured on this machine's clock from when the check began, right after `docker run`; a
      // container this run did not start (status) is judged by Docker's start time.
      let fresh = startedID != nil
      return { _ in
        guard let info = try await inspect() else { return .unhealthy("the container was removed") }
        guard info.running, !info.restarting else {
          return .unhealthy("\(info.status) (exit code \(info.exitCode))")
        }
        guard info.restartCount == 0 else {
          // Running again: Docker has reset the exit code by now.
          return .unhealthy("restarted \(info.restartCount) time(s)")
        }
        let since: Duration =
          fresh
          ? ContinuousClock.now - began
          : .milliseconds(Int64(Date().timeIntervalSince(info.startedAt ?? Date()) * 1000))
        guard since >= up else {
          return .pending("up \(ProgressLog.format(since)) of \(up.configText)")
        }
        return .healthy("up \(ProgressLog.format(since)) with no restart")
      }
    }
  }

  /// Why a `docker: true` check cannot pass.
  static func noHealthcheck(_ container: String) -> String {
    "the image of \(container) has no HEALTHCHECK, so `health.docker: true` can never pass; "
      + "use `http:`, `cmd:` or `running:` instead, or add a HEALTHCHECK to the image"
  }

  /// `docker exec`'s answer as a probe result: exit 0 is healthy.
  static func verdict(of result: ExecResult, _ shown: String) -> ProbeResult {
    if result.succeeded { return .healthy("`\(shown)` exited 0") }
    let said = (result.stderr + "\n" + result.stdout).split(separator: "\n").last { !$0.isEmpty }
    let exit = result.exitSignal.map { "was killed by SIG\($0)" } ?? "exited \(result.exitStatus)"
    return .unhealthy("`\(shown)` \(exit)" + (said.map { ": \($0.prefix(200))" } ?? ""))
  }
}

extension ProbeResult {
  /// No verdict yet: not counted towards `retries`.
  var isPending: Bool {
    if case .pending = failure { return true }
    return false
  }
}
