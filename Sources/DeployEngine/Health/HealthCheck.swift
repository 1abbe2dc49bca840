import Foundation

/// When a container counts as healthy or unhealthy, with Docker HEALTHCHECK's meaning of each
/// knob (https://docs.docker.com/reference/dockerfile/#healthcheck).
public struct HealthPolicy: Sendable, Equatable {
  /// The longest wait between the end of one probe and the start of the next.
  public var interval: Duration
  /// How long one probe may take before it counts as failed.
  public var timeout: Duration
  /// Consecutive failures, after the start period, that make the container unhealthy.
  public var retries: Int
  /// Failures while it runs do not count; a success while it runs is healthy at once.
  public var startPeriod: Duration
  /// The wait after the first failed probe. It doubles after each failure up to `interval`,
  /// so a fast-starting app is seen healthy within milliseconds, and a slow one is not
  /// hammered. (The very first probe runs at once.)
  public var firstDelay: Duration
  /// How many of the latest attempts the report keeps.
  public var keepResults: Int

  public init(
    interval: Duration = .seconds(2), timeout: Duration = .seconds(2), retries: Int = 15,
    startPeriod: Duration = .seconds(5), firstDelay: Duration = .milliseconds(25), keepResults: Int = 5
  ) throws(HealthError) {
    guard interval > .zero else { throw .invalidPolicy("interval must be positive, got \(interval)") }
    guard timeout > .zero else { throw .invalidPolicy("timeout must be positive, got \(timeout)") }
    guard retries >= 1 else { throw .invalidPolicy("retries must be at least 1, got \(retries)") }
    guard startPeriod >= .zero else { throw .invalidPolicy("start_period must not be negative") }
    guard firstDelay > .zero else { throw .invalidPolicy("the first delay must be positive") }
    self.interval = interval
    self.timeout = timeout
    self.retries = retries
    self.startPeriod = startPeriod
    self.firstDelay = min(firstDelay, interval)
    self.keepResults = max(1, keepResults)
  }
}

/// What the engine knows about the container between probes (from `docker inspect`).
public enum Liveness: Sendable, Equatable {
  case alive
  /// Exited, restarted or gone: no point waiting out the retries. The text says what happened.
  case dead(String)
}

/// One probe as the report shows it.
public struct HealthAttempt: Sendable, Equatable {
  /// 1-based.
  public var number: Int
  /// Wall-clock time the probe started.
  public var time: Date
  /// Since the check started.
  public var elapsed: Duration
  public var result: ProbeResult
  /// False for a failure inside the start period (it did not count towards `retries`).
  public var counted: Bool
}

public struct HealthReport: Sendable, Equatable {
  public var healthy: Bool
  /// Probes run.
  public var attempts: Int
  /// The latest attempts, oldest first, at most `HealthPolicy.keepResults`.
  public var lastResults: [HealthAttempt]
  public var duration: Duration
  /// One line: why healthy or why not.
  public var reason: String
  /// The last error the liveness check threw, if any (such errors do not end the check).
  public var livenessError: String?
}

/// A health check loop like Docker's HEALTHCHECK: probe at once, then again after a short delay
/// that backs off up to `interval`, until one probe passes (healthy), `retries` consecutive
/// failures after `startPeriod` (unhealthy), or the liveness check says the container is dead
/// (unhealthy at once).
///
/// The probe is abstract (`HTTPProbe`, or "docker inspect health status" for images with their
/// own HEALTHCHECK). It gets the policy's timeout and must honour it and task cancellation; the
/// loop also stops waiting for it a little after the timeout. A probe that throws counts as a
/// failed attempt with the error's text; only cancellation ends the loop with an error.
public struct HealthCheck: Sendable {
  public typealias Probe = @Sendable (_ timeout: Duration) async throws -> ProbeResult
  public typealias LivenessCheck = @Sendable () async throws -> Liveness

  public var policy: HealthPolicy
  public var probe: Probe
  /// Called after each failed probe. A thrown error is not evidence of death: the probes still
  /// decide, and the error is kept in the report.
  public var liveness: LivenessCheck?
  /// Called after each attempt (progress output).
  public var onAttempt: (@Sendable (HealthAttempt) -> Void)?

  /// How long past its timeout a probe may run before the loop counts it as timed out.
  static let timeoutGrace: Duration = .milliseconds(250)

  public init(
    policy: HealthPolicy, liveness: LivenessCheck? = nil,
    onAttempt: (@Sendable (HealthAttempt) -> Void)? = nil,
    probe: @escaping Probe
  ) {
    self.policy = policy
    self.probe = probe
    self.liveness = liveness
    self.onAttempt = onAttempt
  }

  /// Checks over HTTP; the policy's timeout replaces the probe's.
  public init(
    policy: HealthPolicy, http: HTTPProbe, liveness: LivenessCheck? = nil,
    onAttempt: (@Sendable (HealthAttempt) -> Void)? = nil
  ) {
    self.init(policy: policy, liveness: liveness, onAttempt: onAttempt) { timeout in
      var probe = http
      probe.timeout = timeout
      if let connect = probe.connectTimeout, connect > timeout { probe.connectTimeout = timeout }
      return try await probe.run()
    }
  }

  /// Runs the loop. Throws only `CancellationError`.
  public func run() async throws -> HealthReport {
    let clock = ContinuousClock()
    let start = clock.now
    var attempts = 0
    var consecutiveFailures = 0
    var recent: [HealthAttempt] = []
    var delay = policy.firstDelay
    var livenessError: String?

    func report(healthy: Bool, _ reason: String) -> HealthReport {
      HealthReport(
        healthy: healthy, attempts: attempts, lastResults: recent, duration: clock.now - start,
        reason: reason,
        livenessError: livenessError)
    }

    while true {
      try Task.checkCancellation()
      let probeStart = clock.now
      let wallTime = Date()
      let inStartPeriod = probeStart - start < policy.startPeriod
      attempts += 1
      let result = try await probeOnce()
      let attempt = HealthAttempt(
        number: attempts, time: wallTime, elapsed: probeStart - start, result: result,
        counted: !result.healthy && !inStartPeriod && !result.isPending)
      recent.append(attempt)
      if recent.count > policy.keepResults { recent.removeFirst(recent.count - policy.keepResults) }
      onAttempt?(attempt)

      if result.healthy {
        return report(
          healthy: true, "healthy after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(result.reason)")
      }
      if attempt.counted {
        consecutiveFailures += 1
        if consecutiveFailures >= policy.retries {
          return report(
            healthy: false,
            "unhealthy: \(consecutiveFailures) consecutive failure\(consecutiveFailures == 1 ? "" : "s") "
              + "after the start period (\(attempts) attempts); last: \(result.reason)")
        }
      }
      if let liveness {
        do {
          if case .dead(let why) = try await liveness() {
            return report(healthy: false, "container is not running: \(why); last probe: \(result.reason)")
          }
        } catch {
          try Task.checkCancellation()
          livenessError = String(describing: error)
        }
      }
      try await Task.sleep(for: delay)
      delay = min(delay * 2, policy.interval)
    }
  }

  /// One probe, bounded by the policy's timeout (plus a grace for the probe's own timeout to
  /// fire first) even if the probe is slow to notice.
  private func probeOnce() async throws -> ProbeResult {
    let timeout = policy.timeout
    let probe = self.probe
    let clock = ContinuousClock()
    let started = clock.now
    do {
      return try await withThrowingTaskGroup(of: ProbeResult?.self) { group in
        group.addTask { try await probe(timeout) }
        group.addTask {
          try await Task.sleep(for: timeout + Self.timeoutGrace)
          return nil
        }
        defer { group.cancelAll() }
        // `next()` is nil only for an empty group, which this is not; the timer's nil is the
        // timeout.
        let first = try await group.next() ?? nil
        return first
          ?? ProbeResult(
            healthy: false, failure: .timedOut(detail: "no verdict within \(timeout)"),
            reason: "timed out (no verdict within \(timeout))", duration: clock.now - started)
      }
    } catch {
      try Task.checkCancellation()
      return ProbeResult(
        healthy: false, failure: .probeError(String(describing: error)), reason: "probe failed: \(error)",
        duration: clock.now - started)
    }
  }
}
