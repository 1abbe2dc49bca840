import DeployConfig
import Foundation

/// What can go wrong in a rollout, per host or for the whole command. Each says what failed,
/// where, and what to do; the exit code follows docs/exit-codes.md.
public enum RolloutError: DeployctlError, LocalizedError {
  /// A remote command exited non-zero; `output` is what it printed (its stderr, or both streams).
  case stepFailed(host: String, step: String, exitStatus: Int32, output: String)
  /// The new release did not pass its health check.
  case unhealthy(host: String, reason: String, details: [String])
  /// Another run holds the environment's lock.
  case locked(environment: String, app: String, holders: [String])
  /// Refused before touching anything (arguments, preconditions).
  case refused(String)
  /// The host's own records could not be read or do not allow what was asked.
  case hostState(host: String, problem: String)
  /// SIGINT or SIGTERM arrived; the host was not moved or was put back.
  case interrupted(signal: String)
  /// `promote`: FROM does not qualify (one reason per host); TO was not touched.
  case promotionRefused(from: String, problems: [String], source: PromotionSource)

  public var exitStatus: ExitStatus {
    switch self {
    case .locked: .locked
    case .refused, .promotionRefused: .refused
    default: .failedRestored
    }
  }

  public var description: String {
    switch self {
    case .stepFailed(let host, let step, let status, let output):
      let tail = output.split(separator: "\n").suffix(5).joined(separator: "\n  ")
      return "\(host): \(step) failed with exit status \(status)" + (tail.isEmpty ? "" : ":\n  \(tail)")
    case .unhealthy(let host, let reason, let details):
      return "\(host): health check failed: \(reason)"
        + (details.isEmpty ? "" : "\n  " + details.joined(separator: "\n  "))
    case .locked(let environment, let app, let holders):
      return "\(environment) is locked for \(app) by " + holders.joined(separator: "; ")
        + ". Wait for that run to end. If it crashed, check nothing runs and then: "
        + "deployctl lock \(environment) release --force --app \(app)"
    case .refused(let message):
      return message
    case .hostState(let host, let problem):
      return "\(host): \(problem)"
    case .interrupted(let signal):
      return "interrupted by \(signal)"
    case .promotionRefused(let from, let problems, _):
      return "not promoting: \(from) does not qualify (nothing was changed):\n  "
        + problems.joined(separator: "\n  ")
    }
  }

  public var errorDescription: String? { description }
}

extension RolloutError {
  /// Secrets the run needs but deployctl's environment does not have (exit 2, before any host).
  public static func secretsNotSet(_ names: [String]) -> RolloutError {
    .refused(
      "secret\(names.count == 1 ? "" : "s") \(names.joined(separator: ", ")) not set: export "
        + "\(names.count == 1 ? "it" : "them") in deployctl's environment (values are never read from files)")
  }
}
