import Foundation

/// The plan's `release_command` in a deploy's or promote's JSON document (docs/json.md
/// "release_command"): where it ran, how it ended, how long it took.
public struct ReleaseCommandReport: Codable, Sendable, Equatable {
  public enum Result: String, Codable, Sendable {
    /// It ran and exited 0.
    case succeeded
    /// It exited non-zero, timed out, was interrupted or could not start; nothing changed.
    case failed
    /// `promote`: the digest already ran it in the environment it came from.
    case skipped
  }

  /// The host it ran on; nil when skipped.
  public var host: String?
  public var command: [String]
  public var result: Result
  public var durationMs: Int
  public var error: String?

  public init(host: String?, command: [String], result: Result, durationMs: Int = 0, error: String? = nil) {
    self.host = host
    self.command = command
    self.result = result
    self.durationMs = durationMs
    self.error = error
  }

  enum CodingKeys: String, CodingKey {
    case host, command, result, error
    case durationMs = "duration_ms"
  }
}
