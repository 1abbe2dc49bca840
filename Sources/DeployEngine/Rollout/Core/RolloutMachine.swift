import DeployConfig

/// The decisions of a rollout, as a value: which host does what next, given what happened so far.
/// It never talks to a host; a driver (`Rollout`) carries out its actions on `RolloutHost`s and
/// feeds the outcomes back as events. Unit tests drive it with a fake host.
///
/// A rollout goes: prepare every host (lock, read state, pull) → choose what each host runs →
/// batch by batch, install and check each host, restoring a host that fails at once → when
/// failures exceed `max_failures` (or on interruption) stop, and with `rollback.auto` restore
/// every host already moved → verify the environment → commit every prepared host (record what
/// it runs, release the lock).
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

  /// Where one host is.
  public enum Phase: Sendable, Equatable {
    case pending
    case preparing
    /// Locked, state read, image pulled: ready to install.
    case ready
    /// Another run holds the lock on this host.
    case lockedByOther(String)
    /// Failed before anything changed on it (unreachable, a step failed).
    case failedEarly(HostResult, String)
    /// Already runs what was asked (a dry run's hosts end here too: `planned`).
    case settled(HostResult)
    case installing
    case checking
    /// Runs the new release, healthy.
    case healthy
    case restoring(undoing: Bool, reason: String)
    /// Back on its previous release; `undone`: it was healthy and went back with the rest.
    case restored(undone: Bool, reason: String)
    case restoreFailed(String)
    /// Never started: the rollout stopped before its turn.
    case skipped(String)
  }

  public enum Action: Sendable, Equatable {
    /// Take the lock, read the host's state, pull the image. `attempt` > 0: asked again after
    /// another run held the lock.
    case prepare(host: Int, attempt: Int)
    /// Every host is prepared: decide what each runs (`Event.chosen`).
    case choose
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
    case installed(host: Int, error: String?)
    case checked(host: Int, error: String?)
    case restored(host: Int, error: String?)
    case verified(error: String?)
    case committed(host: Int, error: String?)
    /// SIGINT or SIGTERM: no host starts anything new; moved hosts go back.
    case interrupted(String)
  }

  public enum PrepareOutcome: Sendable, Equatable {
    case ready
    case locked(holder: String)
    case failed(HostResult, String)
  }

  public let settings: Settings
  public private(set) var phases: [Phase]
  /// Hosts moved to the new release in this run (an automatic rollback puts them back).
  public private(set) var moved: Set<Int> = []
  public private(set) var batches: [[Int]] = []
  public private(set) var currentBatch = -1
  /// Why the rollout stopped early, if it did.
  public private(set) var stopped: String?
  /// A refusal before anything changed: exit 2 (`refused`) or 4 (`locked`).
  public private(set) var refusal: (result: CommandResult, reason: String)?
  /// Verification runs once, after the last batch.
  private var verificationDone = false
  public private(set) var committed: Set<Int> = []
  public private(set) var commitErrors: [Int: String] = [:]
  private var attempts: [Int: Int] = [:]
  private var interruption: String?
  private var commitsStarted = false
  private var verifying = false

  public init(hostCount: Int, settings: Settings) {
    self.settings = settings
    phases = Array(repeating: .pending, count: hostCount)
  }

  // MARK: Actions

  public mutating func start() -> [Action] {
    phases.indices.map { i in
      phases[i] = .preparing
      return .prepare(host: i, attempt: 0)
    }
  }

  public mutating func handle(_ event: Event) -> [Action] {
    switch event {
    case .prepared(let i, let outcome):
      switch outcome {
      case .ready: phases[i] = .ready
      case .locked(let holder): phases[i] = .lockedByOther(holder)
      case .failed(let result, let reason): phases[i] = .failedEarly(result, reason)
      }
      return afterPrepare()
    case .chosen(let refusal, let settled):
      if let refusal {
        self.refusal = (.refused, refusal)
        return commitAll()
      }
      for (i, result) in settled { phases[i] = .settled(result) }
      if settings.dryRun {
        for i in phases.indices where phases[i] == .ready { phases[i] = .settled(.planned) }
        return commitAll()
      }
      return nextBatch()
    case .installed(let i, let error):
      moved.insert(i)
      if let error {
        phases[i] = .restoring(undoing: false, reason: error)
        return [.restore(host: i, undoing: false)]
      }
      phases[i] = .checking
      return [.check(host: i)]
    case .checked(let i, let error):
      if let error {
        phases[i] = .restoring(undoing: false, reason: error)
        return [.restore(host: i, undoing: false)]
      }
      phases[i] = .healthy
      return continueBatch()
    case .restored(let i, let error):
      guard case .restoring(let undoing, let reason) = phases[i] else { return [] }
      if let error {
        phases[i] = .restoreFailed("\(reason)\nthen restoring failed: \(error)")
      } else {
        phases[i] = .restored(undone: undoing, reason: reason)
      }
      return undoing ? afterUndo() : continueBatch()
    case .verified(let error):
      verifying = false
      verificationDone = true
      if let error { return stop("verification failed: \(error)") }
      return commitAll()
    case .committed(let i, let error):
      committed.insert(i)
      if let error { commitErrors[i] = error }
      return []
    case .interrupted(let signal):
      guard interruption == nil else { return [] }
      interruption = signal
      // Hosts still to install never start; those in flight finish their step first.
      if phases.contains(where: { $0 == .preparing }) { return [] }
      if currentBatch < 0 || commitsStarted || verifying { return [] }
      return continueBatch()
    }
  }

  /// Every host is prepared or failed: refuse, stop, or choose the targets.
  private mutating func afterPrepare() -> [Action] {
    guard !phases.contains(.preparing) else { return [] }
    let held = phases.indices.filter {
      if case .lockedByOther = phases[$0] { return true }
      return false
    }
    if !held.isEmpty {
      // Racing another run: the run that holds the first host's lock goes on, the other gives up.
      let first = phases.indices.first { i in
        if case .failedEarly = phases[i] { return false }
        return true
      }
      let winning = first.map { phases[$0] == .ready } ?? false
      if winning && interruption == nil, held.allSatisfy({ attempts[$0, default: 0] < settings.lockRetries })
      {
        return held.map { i in
          attempts[i, default: 0] += 1
          phases[i] = .preparing
          return .prepare(host: i, attempt: attempts[i]!)
        }
      }
      let holders = held.compactMap { i -> String? in
        if case .lockedByOther(let holder) = phases[i] { return holder }
        return nil
      }
      refusal = (.locked, holders.joined(separator: "\n"))
      return commitAll()
    }
    if let interruption {
      stopped = "interrupted by \(interruption)"
      return commitAll()
    }
    let failed = phases.indices.filter {
      if case .failedEarly = phases[$0] { return true }
      return false
    }
    if failed.count > settings.maxFailures {
      stopped =
        "\(failed.count) host\(failed.count == 1 ? "" : "s") failed before anything changed "
        + "(max_failures: \(settings.maxFailures)); nothing was changed"
      return commitAll()
    }
    if !phases.contains(.ready) { return commitAll() }
    return [.choose]
  }

  /// Hosts that failed in this rollout (before a change, or restored after failing).
  public var failures: Int {
    phases.filter { phase in
      switch phase {
      case .failedEarly, .restoreFailed: true
      case .restored(let undone, _): !undone
      case .restoring(let undoing, _): !undoing
      default: false
      }
    }.count
  }

  private mutating func nextBatch() -> [Action] {
    if batches.isEmpty && currentBatch < 0 {
      let ready = phases.indices.filter { phases[$0] == .ready }
      batches = settings.batch.batches(of: ready)
    }
    currentBatch += 1
    guard currentBatch < batches.count else { return finishBatches() }
    return continueBatch()
  }

  /// Starts hosts of the current batch up to the parallel limit; moves on when it is done.
  private mutating func continueBatch() -> [Action] {
    guard currentBatch >= 0, currentBatch < batches.count else { return [] }
    let batch = batches[currentBatch]
    if let interruption {
      for i in batch where phases[i] == .ready {
        phases[i] = .skipped("not started: interrupted by \(interruption)")
      }
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
    if let interruption { return stop("interrupted by \(interruption)") }
    if failures > settings.maxFailures {
      return stop(
        "\(failures) host\(failures == 1 ? "" : "s") failed (max_failures: \(settings.maxFailures))")
    }
    return nextBatch()
  }

  private mutating func finishBatches() -> [Action] {
    let healthy = phases.indices.filter { phases[$0] == .healthy }
    if !healthy.isEmpty && !verificationDone {
      verifying = true
      return [.verify(hosts: healthy)]
    }
    return commitAll()
  }

  /// Stops the rollout: hosts not started are skipped; with `rollback.auto` every moved, healthy
  /// host goes back.
  private mutating func stop(_ reason: String) -> [Action] {
    stopped = stopped ?? reason
    for i in phases.indices where phases[i] == .ready {
      phases[i] = .skipped("not started: the rollout stopped")
    }
    guard settings.autoRollback else { return commitAll() }
    let undo = phases.indices.filter { moved.contains($0) && phases[$0] == .healthy }
    if undo.isEmpty { return commitAll() }
    return undo.map { i in
      phases[i] = .restoring(undoing: true, reason: "rolled back: the rollout stopped: \(reason)")
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
    guard !commitsStarted else { return [] }
    commitsStarted = true
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
    commitsStarted
      && phases.indices.allSatisfy { i in
        committed.contains(i) || !Self.holdsLock(phases[i])
      }
  }

  /// What each host ended as.
  public func result(of i: Int) -> (result: HostResult, error: String?) {
    switch phases[i] {
    case .pending, .preparing, .lockedByOther: (.skipped, nil)
    case .ready: (.skipped, stopped.map { "not started: \($0)" })
    case .failedEarly(let result, let reason): (result, reason)
    case .settled(let result): (result, nil)
    case .installing, .checking, .restoring: (.failed, "did not finish")
    case .healthy: (.deployed, nil)
    case .restored(_, let reason): (.rolledBack, reason)
    case .restoreFailed(let reason): (.restoreFailed, reason)
    case .skipped(let reason): (.skipped, reason)
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
