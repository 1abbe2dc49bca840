import DeployEngine
import Foundation

/// `deployctl lock ENV status|release [--force]`.
public enum LockAction: String, CaseIterable, Sendable {
  case status
  case release

  /// Breaking a lock is another run's business: `release` is refused without `--force`.
  public func check(force: Bool) throws(RolloutError) {
    if self == .release && !force {
      throw .refused("lock release breaks another run's lock: check that run has ended, then add --force")
    }
  }
}

extension LockCommand {
  public func run(_ action: LockAction, user: String = Invocation.user()) async -> Report {
    await run(release: action == .release, user: user)
  }
}
