import DeployConfig
import DeployTransport
import Foundation

/// How a host's new container is judged healthy: the plan's check, run through the host's SSH
/// connection (`via: ssh`) or straight from here (`via: direct`), with Docker asked between
/// failed probes whether the container still runs, so a crash fails at once.
struct HealthGate: Sendable {
  /// The container's own address (behind the proxy: it publishes no port), probed through the
  /// host's SSH connection whatever `via` says; nil: the host's published ports.
  var containerAddress: String? = nil
  var spec: HealthSpec?
  /// The host's address, for `via: direct`.
  var address: String
  var containerName: String
  var ports: [PortMapping]
  /// The id `docker run` printed, when this run just started the container: then the first
  /// probe goes out at once, and Docker is only asked once probes fail for a while.
  var startedID: String?
  /// The container as Docker sees it now (nil: it does not exist).
  var inspect: @Sendable () async throws -> ContainerInfo?
  /// A port forward through the host's SSH connection to `host:port` there.
  var forward: @Sendable (_ port: Int, _ host: String) async throws -> PortForward
  /// A command on the host beside its shell, for `health.cmd` (`docker exec`).
  var exec: HostExec? = nil

  /// The shortest time between two questions to Docker while probes fail. A probe costs a
  /// connection through the SSH session; asking Docker costs a round trip and a docker process
  /// on the host, which would otherwise space out the first, quick probes.
  static let livenessSpacing: Duration = .milliseconds(250)

  func check(stop: StopRequest) async throws -> HealthReport {
    let started = startedID
    let inspect = inspect
    let missing = HealthReport(
      healthy: false, attempts: 0, lastResults: [], duration: .zero,
      reason: "the container \(containerName) does not exist after docker run", livenessError: nil)
    guard let spec else {
      // No check configured: running (and not restarting) is all we can ask.
      guard let info = try await inspect() else { return missing }
      let verdict = info.liveness()
      return HealthReport(
        healthy: verdict == .alive, attempts: 1, lastResults: [], duration: .zero,
        reason: verdict == .alive ? "running (no health check configured)" : "\(verdict)",
        livenessError: nil)
    }
    var initial: ContainerInfo?
    if started == nil {
      guard let info = try await inspect() else { return missing }
      initial = info
    }
    let baseline = initial
    let lastAsked = Locked(ContinuousClock.now)
    // Asked after a failed probe, at most every `livenessSpacing`. A stop request ends the check
    // here, between probes: cancelling a probe or an inspect half-way would leave the SSH
    // session unusable.
    let liveness: HealthCheck.LivenessCheck = {
      if let signal = stop.requested { return .dead("interrupted by \(signal) before the check passed") }
      guard ContinuousClock.now - lastAsked.current >= Self.livenessSpacing else { return .alive }
      defer { lastAsked.withLock { $0 = .now } }
      guard let now = try await inspect() else { return .dead("the container was removed") }
      if case .docker = spec.probe, now.health == nil { return .dead(Self.noHealthcheck(containerName)) }
      if let baseline { return now.liveness(since: baseline) }
      return now.liveness(sinceStartedAs: started ?? now.id)
    }
    let policy = try spec.policy()
    var tunnel: PortForward?
    defer {
      if let tunnel { Task { await tunnel.close() } }
    }
    let probe: HealthCheck.Probe
    switch spec.probe {
    case .docker, .cmd, .running:
      probe = try containerProbe(spec.probe)
    case .http(let http):
      let (url, opened) = try await (containerAddress == nil ? spec.via : .ssh).reach(
        http.port, path: http.path, address: address,
        remoteHost: containerAddress ?? PortMapping.boundAddress(of: http.port, in: ports), forward: forward)
      tunnel = opened
      let request = try http.probe(at: url, timeout: spec.timeout)
      probe = { timeout in
        var attempt = request
        attempt.timeout = timeout
        return try await attempt.run()
      }
    }
    let check = HealthCheck(policy: policy, liveness: liveness, probe: probe)
    return try await check.run()
  }

}

extension HealthReport {
  /// The last results, one line each, for the failure message.
  var resultLines: [String] {
    lastResults.map { attempt in
      "attempt \(attempt.number) at +\(ProgressLog.format(attempt.elapsed)): \(attempt.result.reason)"
    }
  }
}

extension ContainerInfo {
  /// Like `liveness(since:)` for a container known only by the id `docker run` printed: a new
  /// container has not restarted yet.
  func liveness(sinceStartedAs id: String) -> Liveness {
    var started = self
    started.id = id
    started.restartCount = 0
    return liveness(since: started)
  }
}
