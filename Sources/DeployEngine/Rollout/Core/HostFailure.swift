/// Why one host's step failed: the step, and what its host said (a thrown error, as text for
/// the report). The engine turns an error a `RolloutHost` throws into one of these.
public struct HostFailure: Sendable, Equatable, CustomStringConvertible {
  public enum Step: String, Sendable {
    /// Lock, read state, pull.
    case prepare, install, check, restore
    /// Record what runs, release the lock.
    case commit
  }

  public var step: Step
  public var message: String

  public init(_ step: Step, _ message: String) {
    self.step = step
    self.message = message
  }

  public init(_ step: Step, _ error: any Error) {
    self.init(step, String(describing: error))
  }

  public var description: String { message }
}

/// Another run's lock on one host, as `prepare` found it.
public struct HeldLock: Sendable, Equatable, CustomStringConvertible {
  /// nil: the lock is taken but names no holder (no holder file).
  public var holder: LockHolder?
  /// The host the lock is on.
  public var host: String
  /// Seconds until the holder's lease expires unless it renews it, by the host's clock.
  public var expiresIn: Int?

  public init(holder: LockHolder?, host: String, expiresIn: Int? = nil) {
    self.holder = holder
    self.host = host
    self.expiresIn = expiresIn
  }

  /// "alice@laptop (pid 42) running `deploy prod` since … (lock on web1; its lease expires in 41s
  /// unless renewed)".
  public var description: String {
    let who = holder?.summary ?? "an unknown holder (no holder file)"
    let lease = expiresIn.map { $0 > 0 ? "; its lease expires in \($0)s unless renewed" : "" } ?? ""
    return "\(who) (lock on \(host)\(lease))"
  }

  /// The same lock whatever its lease says (`--lock-wait` says a holder again only when it
  /// changes, not as its lease counts down).
  public var ignoringLease: HeldLock {
    var lock = self
    lock.expiresIn = nil
    return lock
  }
}
