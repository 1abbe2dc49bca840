import DeployConfig
import Foundation

/// A release as reported to users and CI: its id and the exact image (`repo@sha256:…`).
public struct ReleaseRef: Codable, Sendable, Equatable {
  public var id: String
  public var image: String

  public init(id: String, image: String) {
    self.id = id
    self.image = image
  }
}

/// What happened on one host, as a value (docs/json.md "deploy, promote and rollback", `hosts[]`).
public enum HostResult: String, Codable, Sendable {
  /// Runs the requested release and is healthy.
  case deployed
  /// Already ran the requested release; nothing changed.
  case unchanged
  /// Failed (or was rolled back with the rest) and runs its previous release again.
  case rolledBack = "rolled_back"
  /// Failed before anything changed on it.
  case failed
  /// Could not be reached.
  case unreachable
  /// Not touched because the rollout stopped before its batch.
  case skipped
  /// Could not be put back on its previous release: a person must look.
  case restoreFailed = "restore_failed"
  /// Would change (dry run).
  case planned
}

/// Time spent in one step on one host.
public struct StepTiming: Codable, Sendable, Equatable {
  public var step: String
  public var durationMs: Int

  public init(step: String, durationMs: Int) {
    self.step = step
    self.durationMs = durationMs
  }

  enum CodingKeys: String, CodingKey {
    case step
    case durationMs = "duration_ms"
  }
}

public struct HostReport: Codable, Sendable, Equatable {
  public var name: String
  public var result: HostResult
  /// The release the host runs when the command ends (nil: none of ours).
  public var release: String?
  public var durationMs: Int
  public var error: String?
  public var steps: [StepTiming]

  public init(
    name: String, result: HostResult, release: String?, durationMs: Int, error: String? = nil,
    steps: [StepTiming] = []
  ) {
    self.name = name
    self.result = result
    self.release = release
    self.durationMs = durationMs
    self.error = error
    self.steps = steps
  }

  enum CodingKeys: String, CodingKey {
    case name, result, release, error, steps
    case durationMs = "duration_ms"
  }
}

/// The overall outcome of a command, one per exit code (docs/exit-codes.md).
public enum CommandResult: String, Codable, Sendable {
  case success
  case failed
  case refused
  case needsAttention = "needs_attention"
  case locked

  public init(_ status: ExitStatus) {
    switch status {
    case .success: self = .success
    case .failedRestored: self = .failed
    case .refused: self = .refused
    case .needsAttention: self = .needsAttention
    case .locked: self = .locked
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .success: .success
    case .failed: .failedRestored
    case .refused: .refused
    case .needsAttention: .needsAttention
    case .locked: .locked
    }
  }
}

/// The JSON document of `deploy`, `promote` and `rollback` (docs/json.md).
public struct CommandReport: Codable, Sendable, Equatable {
  public var command: String
  public var environment: String?
  public var app: String?
  public var result: CommandResult
  public var exitCode: Int32
  public var release: ReleaseRef?
  public var previousRelease: ReleaseRef?
  public var promotedFrom: String?
  /// `promote`: what was read in FROM (per host), and the digest taken from it.
  public var source: PromotionSource?
  public var dryRun: Bool
  public var hosts: [HostReport]
  public var error: String?
  public var durationMs: Int
  /// How long the run waited for another run's lock (`--lock-wait`).
  public var waitedMs: Int = 0
  /// The plan's verification (`verify:`), when it ran.
  public var verification: VerificationReport?
  /// `hooks:` that ran, in order.
  public var hooks: [HookResult] = []
  /// `notify:` targets, as sent.
  public var notifications: [NotificationResult] = []
  /// The plan's `release_command`, when the plan has one and the run got that far.
  @OmittedWhenNil public var releaseCommand: ReleaseCommandReport? = nil

  public init(
    command: String, environment: String?, app: String?, result: CommandResult,
    release: ReleaseRef? = nil, previousRelease: ReleaseRef? = nil, promotedFrom: String? = nil,
    dryRun: Bool = false, hosts: [HostReport] = [], error: String? = nil, durationMs: Int = 0
  ) {
    self.command = command
    self.environment = environment
    self.app = app
    self.result = result
    self.exitCode = result.exitStatus.rawValue
    self.release = release
    self.previousRelease = previousRelease
    self.promotedFrom = promotedFrom
    self.dryRun = dryRun
    self.hosts = hosts
    self.error = error
    self.durationMs = durationMs
  }

  enum CodingKeys: String, CodingKey {
    case command, environment, app, result, release, hosts, error, source
    case exitCode = "exit_code"
    case previousRelease = "previous_release"
    case promotedFrom = "promoted_from"
    case dryRun = "dry_run"
    case durationMs = "duration_ms"
    case waitedMs = "waited_ms"
    case verification, hooks, notifications
    case releaseCommand = "release_command"
  }

}
