import DeployConfig
import Foundation

/// What a host can do in a rollout. `DockerHost` does it over SSH with the Docker CLI; unit tests
/// use a fake. Every call reports its outcome (a thrown error is that host's failure, never its
/// siblings').
public protocol RolloutHost: Sendable {
  var name: String { get }
  /// Takes the environment's lock, reads what runs (release records, the app's container) and,
  /// for a deploy or promote, pulls the image. Changes no container.
  func prepare(_ request: PrepareRequest) async -> PrepareResult
  /// Puts `plan.release` in place of what runs: the image by digest, the old container stopped
  /// and removed (or kept, if deployctl did not start it), the new one started.
  func install(_ plan: InstallPlan) async throws
  /// The plan's health check against the container `install` started.
  func check(_ plan: InstallPlan) async throws
  /// Puts back what ran before `plan` (re-created from its record, volumes untouched) and checks it.
  func restore(_ plan: InstallPlan) async throws
  /// Records what the host runs now, appends the audit line, forgets releases beyond `keep`, and
  /// releases the lock.
  func commit(_ commit: HostCommit) async throws
  /// The plan's verification (smoke checks, then the load test) against what runs here; nil when
  /// the plan has no `verify:`.
  func verify() async -> HostVerification?
  /// Extends the lock's lease (a separate channel: it never waits for a step). false: the lock
  /// is no longer this run's.
  func renew(_ holder: LockHolder, ttl: Duration) async -> Bool
  /// Runs the plan's release command once, in a throwaway container of `plan.release`'s image
  /// with its env, secrets, volumes and network, before any container changes; throws when it
  /// fails, times out or is interrupted (its container is removed then).
  func runRelease(_ plan: InstallPlan, command: ReleaseCommandSpec) async throws
  /// Time spent per step so far.
  var steps: [StepTiming] { get }
  /// Closes what the host holds open (its shell), when the run ends.
  func close() async
}

extension RolloutHost {
  public func close() async {}
  public func renew(_ holder: LockHolder, ttl: Duration) async -> Bool { true }
  public func verify() async -> HostVerification? { nil }
  public func runRelease(_ plan: InstallPlan, command: ReleaseCommandSpec) async throws {
    throw RolloutError.refused("\(name): this engine cannot run a release command")
  }
}

public struct PrepareRequest: Sendable, Equatable {
  public var holder: LockHolder
  /// Pulled after the lock is taken (a deploy's tag or digest, a promote's digest); nil for a
  /// rollback, which never needs the registry.
  public var pull: ImageReference?
  public var attempt: Int
  /// The lock's lease (inventory `lock.ttl`).
  public var ttl: Duration
  /// The run's id, in the audit line of a lock takeover (so `history` shows one row per run).
  public var run: String?

  public init(
    holder: LockHolder, pull: ImageReference?, attempt: Int = 0, ttl: Duration = Inventory.defaultLockTTL,
    run: String? = nil
  ) {
    self.holder = holder
    self.pull = pull
    self.attempt = attempt
    self.ttl = ttl
    self.run = run
  }
}

public struct PrepareResult: Sendable {
  public var outcome: RolloutMachine.PrepareOutcome
  /// What runs on the host, when it was read.
  public var snapshot: HostSnapshot?
  /// The digest the registry served for `PrepareRequest.pull`.
  public var pulled: ImageDigest?

  public init(
    outcome: RolloutMachine.PrepareOutcome, snapshot: HostSnapshot? = nil, pulled: ImageDigest? = nil
  ) {
    self.outcome = outcome
    self.snapshot = snapshot
    self.pulled = pulled
  }
}

/// One host's change: the release to run, and what it replaces.
public struct InstallPlan: Sendable {
  public var release: ReleaseRecord
  /// The release to go back to on failure (nil: there was none; a kept foreign container, if
  /// any, comes back instead).
  public var previous: ReleaseRecord?
  /// The app's container as it was before.
  public var replacing: ContainerInfo?
  /// The env file's content (the plan's secrets), written with mode 0600; never logged.
  public var envFile: String?
  /// The same secrets by name (a Swarm service gets them as Docker secrets); never logged.
  public var secrets: [EnvVar] = []

  public init(
    release: ReleaseRecord, previous: ReleaseRecord?, replacing: ContainerInfo?, envFile: String? = nil
  ) {
    self.release = release
    self.previous = previous
    self.replacing = replacing
    self.envFile = envFile
  }
}

/// What a host writes when a command ends, decided by `HostCommit.make`: records, the current
/// pointer, one audit line, releases to forget; then the lock is released.
public struct HostCommit: Sendable, Equatable {
  /// Records to (re)write, newest state of each.
  public var records: [ReleaseRecord]
  public enum Current: Sendable, Equatable {
    case keep
    case set(String)
    case remove
  }
  public var current: Current
  public var audit: AuditEntry?
  /// Releases beyond `rollback.keep`: their records and env files go, and their images unless a
  /// kept release uses them (pruned off the critical path).
  public var forget: [ReleaseRecord]
  public var holder: LockHolder

  public init(
    records: [ReleaseRecord] = [], current: Current = .keep, audit: AuditEntry? = nil,
    forget: [ReleaseRecord] = [], holder: LockHolder
  ) {
    self.records = records
    self.current = current
    self.audit = audit
    self.forget = forget
    self.holder = holder
  }
}
