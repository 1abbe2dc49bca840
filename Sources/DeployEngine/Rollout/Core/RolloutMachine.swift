import DeployConfig

/// The decisions of a rollout, as a value: which host does what next, given what happened so far.
/// It never talks to a host; a driver (`RolloutEngine`) carries out its actions on `RolloutHost`s
/// and feeds the outcomes back as events. Unit tests drive it with a fake host.
///
/// A rollout goes through its `Stage`s: prepare every host (lock, read state, pull) → choose what
/// each host runs → run the plan's release command once, on the first host to change → batch by batch, install and check each host, restoring a host that fails at
/// once → when failures exceed `max_failures` (or on interruption) stop, and with
/// `rollback.auto` undo every host already moved → verify the environment → commit every
/// prepared host (record what it runs, release the lock).
public struct RolloutMachine: Sendable {
  public struct Settings: Sendable, Equatable {
    public var batch: BatchPolicy
    public var maxFailures: Int
    public var autoRollback: Bool
    /// Hosts installed at once within a batch; nil: the whole batch.
    public var parallel: Int?
    public var dryRun: Bool
    /// How often a host whose lock another run holds is asked again, when this run holds the
    /// lock on the first host (two runs racing: the one holding the first host wins).
    public var lockRetries: Int
    /// Whether the plan's `release_command` runs before the first batch (a deploy, or a promote
    /// of a digest that has not run it yet; never a rollback or a dry run).
    public var releaseCommand = false

    public init(
      batch: BatchPolicy, maxFailures: Int = 0, autoRollback: Bool = true, parallel: Int? = nil,
      dryRun: Bool = false, lockRetries: Int = 20
    ) {
      self.batch = batch
      self.maxFailures = maxFailures
      self.autoRollback = autoRollback
      self.parallel = parallel
      self.dryRun = dryRun
      self.lockRetries = lockRetries
    }
  }

  /// Where the rollout as a whole is. Each stage is entered once, in this order (a stage may be
  /// skipped).
  public enum Stage: Sendable, Equatable {
    /// Not started.
    case idle
    /// Every host locks, reads its state and pulls.
    case preparing
    /// Every host is prepared: the driver decides what each runs (`Event.chosen`).
    case choosing
    /// The release command runs once, on the first host that changes; no container has changed.
    case releasing
    /// Batch n (from 0) installs and checks its hosts.
    case batch(Int)
    /// Every batch is healthy: the environment's verification runs.
    case verifying
    /// The rollout stopped: moved, healthy hosts go back.
    case undoing
    /// Every host that holds our lock records what it runs and releases the lock.
    case committing
  }

  /// Where one host is.
  public enum Phase: Sendable, Equatable {
    case pending
    case preparing
    /// Locked, state read, image pulled: ready to install.
    case ready
    /// Another run holds the lock on this host.
    case lockedByOther(HeldLock)
    /// Failed before anything changed on it (unreachable, a step failed).
    case failedEarly(HostResult, HostFailure)
    /// Already runs what was asked (a dry run's hosts end here too: `planned`).
    case settled(HostResult)
    case installing
    case checking
    /// Runs the new release, healthy.
    case healthy
    case restoring(RestoreReason)
    /// Back on its previous release.
    case restored(RestoreReason)
    case restoreFailed(RestoreReason, HostFailure)
    /// Never started: the rollout stopped before its turn.
    case skipped(NotStarted)
  }

  /// Why a host never started.
  public enum NotStarted: Sendable, Equatable {
    /// A signal came while its batch ran.
    case interrupted(signal: String)
    /// The rollout stopped in an earlier batch.
    case stopped
  }

  /// Why a host goes back to its previous release.
  public enum RestoreReason: Sendable, Equatable, CustomStringConvertible {
    /// Its own install or check failed.
    case failed(HostFailure)
    /// It was healthy, and goes back with the rest because the rollout stopped.
    case undone(StopReason)

    public var isUndo: Bool {
      if case .undone = self { return true }
      return false
    }

    public var description: String {
      switch self {
      case .failed(let failure): failure.message
      case .undone(let reason): "rolled back: the rollout stopped: \(reason)"
      }
    }
  }

  /// Why the rollout stopped early.
  public enum StopReason: Sendable, Equatable, CustomStringConvertible {
    case interrupted(signal: String)
    /// More hosts failed before any change than `max_failures` allows.
    case failedBeforeChange(count: Int, maxFailures: Int)
    /// More hosts failed in the batches than `max_failures` allows.
    case failures(count: Int, maxFailures: Int)
    /// The environment's verification failed on these hosts.
    case verificationFailed(hosts: [String])
    /// The environment's Prometheus analysis failed (`verify.prometheus`); why.
    case metricsFailed(String)
    /// The release command failed (before any container changed).
    case releaseCommandFailed(String)

    public var description: String {
      switch self {
      case .interrupted(let signal):
        "interrupted by \(signal)"
      case .failedBeforeChange(let count, let max):
        "\(count) host\(count == 1 ? "" : "s") failed before anything changed (max_failures: \(max)); "
          + "nothing was changed"
      case .failures(let count, let max):
        "\(count) host\(count == 1 ? "" : "s") failed (max_failures: \(max))"
      case .verificationFailed(let hosts):
        "verification failed: verification failed on \(hosts.joined(separator: ", "))"
      case .metricsFailed(let reason):
        "verification failed: \(reason)"
      case .releaseCommandFailed(let why):
        "the release command failed: \(why); nothing was changed"
      }
    }
  }

  /// A refusal before anything changed.
  public enum Refusal: Sendable, Equatable {
    /// Exit 2: what was asked cannot be done (a rollback with nothing to go back to, a failed
    /// `pre_deploy` hook).
    case refused(String)
    /// Exit 4: other runs hold the lock on these hosts.
    case locked([HeldLock])

    public var result: CommandResult {
      switch self {
      case .refused: .refused
      case .locked: .locked
      }
    }
  }

  public enum Action: Sendable, Equatable {
    /// Take the lock, read the host's state, pull the image. `attempt` > 0: asked again after
    /// another run held the lock.
    case prepare(host: Int, attempt: Int)
    /// Every host is prepared: decide what each runs (`Event.chosen`).
    case choose
    /// Run the release command on this host, in a container of its own (`Event.released`).
    case release(host: Int)
    case install(host: Int)
    case check(host: Int)
    case restore(host: Int, undoing: Bool)
    /// Every batch is healthy: the environment's verification (smoke and load checks).
    case verify(hosts: [Int])
    /// Record what the host runs now and release its lock.
    case commit(host: Int)
  }

  public enum Event: Sendable, Equatable {
    case prepared(host: Int, PrepareOutcome)
    /// What `choose` decided: a refusal (exit 2, nothing changed), or hosts that need no change.
    case chosen(refusal: String?, settled: [Int: HostResult])
    /// The release command ended; `failure` says why it failed.
    case released(failure: String?)
    case installed(host: Int, failure: HostFailure?)
    case checked(host: Int, failure: HostFailure?)
    case restored(host: Int, failure: HostFailure?)
    /// The hosts (by name) whose verification failed; none: it passed. `metrics`: why the
    /// environment's Prometheus analysis failed, nil when it passed or did not run.
    case verified(failedOn: [String], metrics: String? = nil)
    case committed(host: Int, failure: HostFailure?)
    /// SIGINT or SIGTERM: no host starts anything new; moved hosts go back.
    case interrupted(String)
  }

  public enum PrepareOutcome: Sendable, Equatable {
    case ready
    case locked(HeldLock)
    case failed(HostResult, HostFailure)
  }

  public let settings: Settings
  public private(set) var stage = Stage.idle
  public private(set) var phases: [Phase]
  /// Hosts moved to the new release in this run (an automatic rollback puts them back).
  public private(set) var moved: Set<Int> = []
  public private(set) var batches: [[Int]] = []
  /// Why the rollout stopped early, if it did.
  public private(set) var stopped: StopReason?
  /// A refusal before anything changed: exit 2 (`refused`) or 4 (`locked`).
  public private(set) var refusal: Refusal?
  public private(set) var committed: Set<Int> = []
  public private(set) var commitFailures: [Int: HostFailure] = [:]
  /// The signal that interrupted the rollout, if one did.
  public private(set) var interruption: String?
  private var attempts: [Int: Int] = [:]

  public init(hostCount: Int, settings: Settings) {
    self.settings = settings
    phases = Array(repeating: .pending, count: hostCount)
  }

  // MARK: Actions

  public mutating func start() -> [Action] {
    guard stage == .idle else { return [] }
    stage = .preparing
    return phases.indices.map { i in
      phases[i] = .preparing
      return .prepare(host: i, attempt: 0)
    }
  }

  public mutating func handle(_ event: Event) -> [Action] {
    switch event {
    case .prepared(let i, let outcome):
      switch outcome {
      case .ready: phases[i] = .ready
      case .locked(let held): phases[i] = .lockedByOther(held)
      case .failed(let result, let failure): phases[i] = .failedEarly(result, failure)
      }
      return afterPrepare()
    case .chosen(let refusal, let settled):
      return chosen(refusal: refusal, settled: settled)
    case .released(let failure):
      guard stage == .releasing else { return [] }
      if let interruption { return stop(.interrupted(signal: interruption)) }
      if let failure { return stop(.releaseCommandFailed(failure)) }
      return startBatch(0)
    case .installed(let i, let failure):
      moved.insert(i)
      if let failure { return restore(i, after: failure) }
      phases[i] = .checking
      return [.check(host: i)]
    case .checked(let i, let failure):
      if let failure { return restore(i, after: failure) }
      phases[i] = .healthy
      return continueBatch()
    case .restored(let i, let failure):
      return restored(i, failure)
    case .verified(let failedOn, let metrics):
      guard stage == .verifying else { return [] }
      if !failedOn.isEmpty { return stop(.verificationFailed(hosts: failedOn)) }
      // A bake window cut short by a signal (it ends at once) says so.
      if metrics != nil, let interruption { return stop(.interrupted(signal: interruption)) }
      if let metrics { return stop(.metricsFailed(metrics)) }
      return commitAll()
    case .committed(let i, let failure):
      committed.insert(i)
      if let failure { commitFailures[i] = failure }
      return []
    case .interrupted(let signal):
      guard interruption == nil else { return [] }
      interruption = signal
      // Hosts still to install never start; those in flight finish their step first. Before
      // the batches the next stage sees it; after them nothing new starts anyway.
      guard case .batch = stage else { return [] }
      return continueBatch()
    }
  }

  /// An install or check failed: the host goes back at once.
  private mutating func restore(_ i: Int, after failure: HostFailure) -> [Action] {
    phases[i] = .restoring(.failed(failure))
    return [.restore(host: i, undoing: false)]
  }

  private mutating func restored(_ i: Int, _ failure: HostFailure?) -> [Action] {
    guard case .restoring(let reason) = phases[i] else { return [] }
    phases[i] = failure.map { .restoreFailed(reason, $0) } ?? .restored(reason)
    return reason.isUndo ? afterUndo() : continueBatch()
  }

  /// Every host is prepared or failed: refuse, stop, or choose the targets.
  private mutating func afterPrepare() -> [Action] {
    guard stage == .preparing, !phases.contains(.preparing) else { return [] }
    let held = phases.compactMap { phase -> HeldLock? in
      if case .lockedByOther(let lock) = phase { return lock }
      return nil
    }
    if !held.isEmpty { return lockedByOthers(held) }
    // Stopped before any host moved: the hosts stay `ready` (reported as not started, with why).
    if let interruption {
      stopped = .interrupted(signal: interruption)
      return commitAll()
    }
    let failed = phases.filter {
      if case .failedEarly = $0 { return true }
      return false
    }
    if failed.count > settings.maxFailures {
      stopped = .failedBeforeChange(count: failed.count, maxFailures: settings.maxFailures)
      return commitAll()
    }
    if !phases.contains(.ready) { return commitAll() }
    stage = .choosing
    return [.choose]
  }

  /// Racing another run: the run that holds the first host's lock goes on (asks the others
  /// again), the other gives up (exit 4).
  private mutating func lockedByOthers(_ held: [HeldLock]) -> [Action] {
    let waiting = phases.indices.filter {
      if case .lockedByOther = phases[$0] { return true }
      return false
    }
    let first = phases.firstIndex { phase in
      if case .failedEarly = phase { return false }
      return true
    }
    let winning = first.map { phases[$0] == .ready } ?? false
    if winning && interruption == nil, waiting.allSatisfy({ attempts[$0, default: 0] < settings.lockRetries })
    {
      return waiting.map { i in
        let attempt = attempts[i, default: 0] + 1
        attempts[i] = attempt
        phases[i] = .preparing
        return .prepare(host: i, attempt: attempt)
      }
    }
    refusal = .locked(held)
    return commitAll()
  }

  private mutating func chosen(refusal: String?, settled: [Int: HostResult]) -> [Action] {
    guard stage == .choosing else { return [] }
    if let refusal {
      self.refusal = .refused(refusal)
      return commitAll()
    }
    for (i, result) in settled { phases[i] = .settled(result) }
    if settings.dryRun {
      for i in phases.indices where phases[i] == .ready { phases[i] = .settled(.planned) }
      return commitAll()
    }
    batches = settings.batch.batches(of: phases.indices.filter { phases[$0] == .ready })
    if settings.releaseCommand, interruption == nil, let first = batches.first?.first {
      stage = .releasing
      return [.release(host: first)]
    }
    return startBatch(0)
  }

  /// Hosts that failed in this rollout (before a change, or restored after failing).
  public var failures: Int {
    phases.filter { phase in
      switch phase {
      case .failedEarly, .restoreFailed: true
      case .restored(let reason), .restoring(let reason): !reason.isUndo
      default: false
      }
    }.count
  }

  private mutating func startBatch(_ n: Int) -> [Action] {
    guard n < batches.count else { return afterBatches() }
    stage = .batch(n)
    return continueBatch()
  }

  /// Starts hosts of the current batch up to the parallel limit; moves on when it is done.
  private mutating func continueBatch() -> [Action] {
    guard case .batch(let n) = stage else { return [] }
    let batch = batches[n]
    if let interruption {
      for i in batch where phases[i] == .ready { phases[i] = .skipped(.interrupted(signal: interruption)) }
    }
    let busy = batch.filter { i in
      switch phases[i] {
      case .installing, .checking, .restoring: true
      default: false
      }
    }
    let limit = max(1, settings.parallel ?? batch.count)
    var actions: [Action] = []
    for i in batch where phases[i] == .ready && busy.count + actions.count < limit {
      phases[i] = .installing
      actions.append(.install(host: i))
    }
    if !actions.isEmpty || !busy.isEmpty { return actions }
    // The batch is done.
    if let interruption { return stop(.interrupted(signal: interruption)) }
    if failures > settings.maxFailures {
      return stop(.failures(count: failures, maxFailures: settings.maxFailures))
    }
    return startBatch(n + 1)
  }

  /// Every batch is done: verify what is healthy, then commit.
  private mutating func afterBatches() -> [Action] {
    let healthy = phases.indices.filter { phases[$0] == .healthy }
    if healthy.isEmpty { return commitAll() }
    stage = .verifying
    return [.verify(hosts: healthy)]
  }

  /// Stops the rollout: hosts not started are skipped; with `rollback.auto` every moved, healthy
  /// host goes back.
  private mutating func stop(_ reason: StopReason) -> [Action] {
    stopped = stopped ?? reason
    for i in phases.indices where phases[i] == .ready { phases[i] = .skipped(.stopped) }
    let undo = phases.indices.filter { moved.contains($0) && phases[$0] == .healthy }
    guard settings.autoRollback, !undo.isEmpty else { return commitAll() }
    stage = .undoing
    return undo.map { i in
      phases[i] = .restoring(.undone(reason))
      return .restore(host: i, undoing: true)
    }
  }

  private mutating func afterUndo() -> [Action] {
    let undoing = phases.contains { phase in
      if case .restoring = phase { return true }
      return false
    }
    return undoing ? [] : commitAll()
  }

  /// Every host that was prepared (and so holds our lock) records and unlocks, once.
  private mutating func commitAll() -> [Action] {
    guard stage != .committing else { return [] }
    stage = .committing
    return phases.indices.compactMap { i in Self.holdsLock(phases[i]) ? .commit(host: i) : nil }
  }

  /// Whether this run took the lock on a host in this phase. A host that failed before any change
  /// but was reached (a pull or a check failed) holds it too; an unreachable one does not.
  static func holdsLock(_ phase: Phase) -> Bool {
    switch phase {
    case .failedEarly(let result, _): result != .unreachable
    case .lockedByOther, .pending, .preparing: false
    default: true
    }
  }

  // MARK: Outcome

  public var isFinished: Bool {
    stage == .committing
      && phases.indices.allSatisfy { i in
        committed.contains(i) || !Self.holdsLock(phases[i])
      }
  }

  /// What each host ended as, and why, as the report says it.
  public func result(of i: Int) -> (result: HostResult, error: String?) {
    switch phases[i] {
    case .pending, .preparing, .lockedByOther: (.skipped, nil)
    case .ready: (.skipped, stopped.map { "not started: \($0)" })
    case .failedEarly(let result, let failure): (result, failure.message)
    case .settled(let result): (result, nil)
    case .installing, .checking, .restoring: (.failed, "did not finish")
    case .healthy: (.deployed, nil)
    case .restored(let reason): (.rolledBack, reason.description)
    case .restoreFailed(let reason, let failure):
      (.restoreFailed, "\(reason)\nthen restoring failed: \(failure)")
    case .skipped(.interrupted(let signal)): (.skipped, "not started: interrupted by \(signal)")
    case .skipped(.stopped): (.skipped, "not started: the rollout stopped")
    }
  }

  /// 0 when every host runs the release; 3 when a host could not be restored; 1 otherwise; 2 or 4
  /// for a refusal.
  public var verdict: CommandResult {
    if let refusal { return refusal.result }
    let results = phases.indices.map { result(of: $0).result }
    if results.contains(.restoreFailed) { return .needsAttention }
    let ok: Set<HostResult> = settings.dryRun ? [.planned, .unchanged] : [.deployed, .unchanged]
    return results.allSatisfy(ok.contains) && stopped == nil ? .success : .failed
  }
}
