import DeployConfig

/// One host's steps as a command runs them: a line on stderr when each starts and ends (or
/// fails, with the first line of why), and the time each took, for the JSON `steps[]`.
public final class HostSteps: Sendable {
  public let host: String
  let progress: ProgressLog
  private let timings = Locked<[StepTiming]>([])

  public init(host: String, progress: ProgressLog) {
    self.host = host
    self.progress = progress
  }

  /// Time spent per step so far, in order.
  public var all: [StepTiming] { timings.current }

  public func record(_ step: String, _ elapsed: Duration) {
    timings.withLock { $0.append(StepTiming(step: step, durationMs: elapsed.milliseconds)) }
  }

  /// Runs `body` as step `step`. `quiet`: timed, but shown only if it fails.
  public func run<T: Sendable>(_ step: String, quiet: Bool = false, _ body: () async throws -> T)
    async throws -> T
  {
    let clock = ContinuousClock()
    let start = clock.now
    if !quiet { await progress.host(host, step, .started) }
    do {
      let value = try await body()
      record(step, clock.now - start)
      if !quiet { await progress.host(host, step, .done(clock.now - start)) }
      return value
    } catch {
      record(step, clock.now - start)
      let why = String(describing: error).firstLine
      await progress.host(host, step, .failed(clock.now - start, why))
      throw error
    }
  }
}
