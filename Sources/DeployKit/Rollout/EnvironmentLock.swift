import Foundation

/// The per-environment, per-app lock, held on every host of the environment for the whole
/// command. Taken on the first host alone, then on the others together: two runs racing for
/// the same environment meet on the first host, where `mkdir` lets exactly one through.
public struct EnvironmentLock: Sendable {
  let hosts: [RemoteHost]
  let holder: LockHolder

  public static func holder(user: String, command: String) -> LockHolder {
    LockHolder(
      user: user, host: ProcessInfo.processInfo.hostName, pid: ProcessInfo.processInfo.processIdentifier,
      command: command)
  }

  public static func acquire(
    on hosts: [RemoteHost], environment: String, app: String, user: String, command: String,
    progress: ProgressLog
  ) async throws -> EnvironmentLock {
    let holder = holder(user: user, command: command)
    guard let first = hosts.first else { return EnvironmentLock(hosts: [], holder: holder) }
    if let held = try await take(first, holder) {
      throw RolloutError.locked(environment: environment, app: app, holders: [held])
    }
    let rest = Array(hosts.dropFirst())
    let outcomes = await FanOut.run(rest, parallel: max(1, min(rest.count, 64)), name: \.name) { host in
      try await take(host, holder)
    }
    var taken = [first]
    var held: [String] = []
    var failure: (any Error)?
    for (host, outcome) in zip(rest, outcomes) {
      switch outcome.result {
      case .success(nil): taken.append(host)
      case .success(let holder?): held.append(holder)
      case .failure(let error): failure = failure ?? error
      }
    }
    let lock = EnvironmentLock(hosts: taken, holder: holder)
    if !held.isEmpty {
      await lock.release(progress: progress)
      throw RolloutError.locked(environment: environment, app: app, holders: held)
    }
    if let failure {
      await lock.release(progress: progress)
      throw failure
    }
    return lock
  }

  /// nil when taken; otherwise who holds it, e.g. "alice@laptop (pid 42) running `deploy …` since … on web1".
  private static func take(_ host: RemoteHost, _ holder: LockHolder) async throws -> String? {
    let result = try await host.step("lock", quiet: true) {
      try await host.run(HostLock.acquire(holder, host.paths), "take the lock", timeout: .seconds(30))
    }
    switch try HostLock.parseAttempt(result.stdout) {
    case .acquired: return nil
    case .held(let other?): return "\(other.summary) (lock on \(host.name))"
    case .held(nil): return "an unknown holder (lock on \(host.name) without holder file)"
    }
  }

  /// Releases the lock on every host where this run took it. Best effort: a host that cannot
  /// be reached keeps its lock, and the message says how to break it.
  public func release(progress: ProgressLog) async {
    let holder = holder
    let outcomes = await FanOut.run(hosts, parallel: max(1, min(hosts.count, 64)), name: \.name) { host in
      _ = try await host.step("unlock", quiet: true) {
        try await host.run(HostLock.release(holder, host.paths), "release the lock", timeout: .seconds(30))
      }
    }
    for outcome in outcomes where outcome.error != nil {
      await progress.host(
        outcome.host, "release lock",
        .note("failed (\(outcome.error!)); break it with `deployctl lock ENV release --force`"))
    }
  }
}
